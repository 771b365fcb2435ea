"""Priors: dip (fit a net) and, later, hand-crafted ones."""
