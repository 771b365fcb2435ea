"""The restart axis: R fits of one spec in one program (R >= 1, the axis
is there for R = 1 too), run in vmapped groups, and the program that draws
their parameters."""

import functools

import jax

def over_restarts(r: int, g: int | None, fn):
  """`fn` over the restart axis (the leading axis of every argument; it is
  there for R = 1 too, so one program shape serves every R).

  The R restarts run in groups of `spec.restart_group`: vmapped within a
  group, the groups one after another in a `lax.map`, all in one program.
  One group of R is the plain vmap (GPU/TPU). On CPU a vmapped
  step's activations grow R-fold and fall out of the caches: measured at
  128 px, 8 vmapped restarts cost 1.8x as much per restart as one alone,
  while groups of 1-2 cost what one alone does.
  """
  g = g or r
  if r == 1:
    # The axis stays (every consumer sees R x ...), but one restart runs
    # the unbatched program on its slice: a vmap over one restart reorders
    # float sums (measured: 3e-4 dB off after 40 steps), and the wave-1
    # numbers are those of the unbatched program.
    def one(*args):
      out = fn(*jax.tree.map(lambda a: a[0], args))
      return jax.tree.map(lambda a: a[None], out)
    return one
  if g >= r:
    return jax.vmap(fn)
  if r % g:
    raise ValueError(f"restart_group={g} does not divide num_restarts={r}")

  def grouped(*args):
    if g == 1:
      return jax.lax.map(lambda a: fn(*a), args)
    split = jax.tree.map(lambda a: a.reshape(r // g, g, *a.shape[1:]), args)
    out = jax.lax.map(lambda a: jax.vmap(fn)(*a), split)
    return jax.tree.map(lambda a: a.reshape(r, *a.shape[2:]), out)

  return grouped


def auto_restart_group(num_restarts: int, pixels: int, channels: int,
                       backend: str) -> int:
  """How many restarts to vmap together: all on GPU/TPU; on CPU the largest
  divisor of R whose batched activations (group x pixels x channels floats
  per layer) stay near the size that measured no slower than one restart
  alone (8 x 64 x 64 px x 32 channels, 4 MiB)."""
  if backend != "cpu":
    return num_restarts
  limit = max(1, (8 * 64 * 64 * 32) // max(1, pixels * channels))
  return max(g for g in range(1, num_restarts + 1)
             if num_restarts % g == 0 and g <= limit)



@functools.lru_cache(maxsize=16)
def params_program(net, num_restarts: int, restart_group):
  """The jitted (keys, z) -> per-restart initial parameters. Drawing them is
  most of what compiling a fit's init costs on XLA:CPU (a PRNG kernel per
  parameter array: ~5 s for the tiny test net, whose forward pass compiles
  in ~1 s), and it depends only on the net and the restart layout: fits
  that differ in operator, objective or watchers share this program.

  On XLA:CPU it is compiled at LLVM optimization level 1 (of 3): it runs
  once, and that level compiles it 1.5-3x faster (jpeg's quick net: 8.8 s
  -> 3.2 s) while drawing bit-identical parameters, measured on every net
  preset and every task's config (threefry is integer arithmetic; the
  float transforms after it are elementwise). The start-state program
  after it is not: its forward pass rounds differently at level 1."""
  draw = jax.jit(over_restarts(num_restarts, restart_group,
                                 lambda k, z: net.init(k, z)["params"]))
  if jax.default_backend() != "cpu":
    return draw
  compiled = {}

  def draw_cpu(keys, z):
    if isinstance(keys, jax.core.Tracer) or isinstance(z, jax.core.Tracer):
      return draw(keys, z)  # inside another trace (eval_shape): shapes only
    shapes = (keys.shape, keys.dtype, z.shape, z.dtype)
    if shapes not in compiled:
      compiled[shapes] = draw.lower(keys, z).compile(
          compiler_options={"xla_backend_optimization_level": 1})
    return compiled[shapes](keys, z)

  return draw_cpu
