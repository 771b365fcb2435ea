"""The command line: flags, one run (`run`), many runs (`sweep`, `hyper`,
`tables`). `python -m dip_jax.main` is the entry point."""
