"""The record every classifier is handed around as."""

import dataclasses
from typing import Any, Callable


@dataclasses.dataclass(frozen=True, eq=False)
class Classifier:
  """A classifier as the activation-maximization and feature-inversion
  operators see it.

  Attributes:
    name: for messages and summaries ("alexnet", "tiny cnn").
    apply: (params, x) -> {layer name: activation}; x is N x H x W x 3 in
      [0, 1] at `input_size` (any input normalization happens inside), each
      activation N x h x w x C (conv layers) or N x C (fully connected).
      A pure function, so it can be jitted and differentiated.
    params: the pytree `apply` takes.
    input_size: (H, W) the classifier expects.
    layers: the layer names `apply` returns, input to output (the last one
      is the logits).
  """
  name: str
  apply: Callable[[Any, Any], dict]
  params: Any
  input_size: tuple
  layers: tuple
