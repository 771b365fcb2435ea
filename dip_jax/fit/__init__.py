"""The DIP fit as composable parts.

  state     FitState: params, optimizer state, step, last output, and one
            mapping of watcher states (`watch`), keyed by watcher name.
  optim     the optimizer: an optax GradientTransformation built from
            `config.optim` (name, learning rate, schedule, clipping) plus
            whatever a method chains on (SGLD's kernel noise).
  watchers  small pure init/update pairs run after every step (EMA, the
            divergence guard, early stopping, SGLD's posterior, DeepRED's
            ADMM, aSeqDIP's input refresh); the step knows none by name.
  step      the one jitted step and its chunked scan over restarts.
"""
