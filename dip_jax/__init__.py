"""dip_jax: Deep Image Prior and classical priors for image restoration in JAX."""
