"""Classical solvers as plain functions, with no config: total variation
(`tv`), non-local means (`nlm`) and the pretrained DnCNN (`dncnn`). The
methods in `dip_jax.methods` wrap them."""
