"""Placing fits on devices with jax.sharding (no pmap).

Restarts are independent fits batched on a leading axis. With several
devices, a 1-D mesh with axis "restart" splits that axis across them: the
fit state and the inputs z are sharded along it, everything shared (the
observation, mask, clean image) is replicated, and the jitted chunk follows
the data. One device (or one restart) needs no mesh at all.

A batch of B images (lanes) is split the same way on a mesh with axis
"lane": every array of the batched program leads with the lane axis, so all
of it (state, data, keys) is sharded along that axis and nothing is
replicated.
"""

import jax
from jax.sharding import NamedSharding, PartitionSpec as P

from dip_jax.errors import InputError

AXIS = "restart"
LANE_AXIS = "lane"


def restart_mesh(num_restarts: int, num_devices: int = 0):
  """A mesh over the devices the restarts are split across, or None.

  `num_devices` = 0 means all of this process's devices: a run is one
  process's work (a multi-host sweep runs whole jobs per host). The restart
  count must divide evenly: a silent imbalance would leave devices idle
  without saying so.
  """
  devices = jax.local_devices()
  n = num_devices or len(devices)
  if n > len(devices):
    raise InputError(f"num_devices={n} but only {len(devices)} devices exist")
  if num_restarts == 1 or n == 1:
    return None
  if num_restarts % n:
    raise InputError(
        f"num_restarts={num_restarts} does not split evenly over {n} devices;"
        f" use a multiple of {n} or set --config.num_devices to a divisor")
  return jax.make_mesh((n,), (AXIS,), devices=devices[:n],
                       axis_types=(jax.sharding.AxisType.Auto,))


def place(mesh, state, data: dict):
  """Shards the restart axis of `state` and `data['z']`; replicates the rest."""
  if mesh is None:
    return state, data
  split = NamedSharding(mesh, P(AXIS))
  replicated = NamedSharding(mesh, P())
  state = jax.device_put(state, split)
  data = {k: jax.device_put(v, split if k == "z" else replicated)
          for k, v in data.items()}
  return state, data


def place_keys(mesh, keys):
  if mesh is None:
    return keys
  return jax.device_put(keys, NamedSharding(mesh, P(AXIS)))


def lane_mesh(num_lanes: int, num_devices: int = 0):
  """A mesh over the devices a batch's lanes are split across, or None.

  Unlike restarts (a user's choice, refused when uneven), the lane count is
  the batch size the budget settled on; the mesh then takes the most
  devices, up to `num_devices` (0: all local ones), that divide it evenly.
  """
  devices = jax.local_devices()
  n = num_devices or len(devices)
  if n > len(devices):
    raise InputError(f"num_devices={n} but only {len(devices)} devices exist")
  n = max(d for d in range(1, min(n, num_lanes) + 1) if num_lanes % d == 0)
  if n == 1:
    return None
  return jax.make_mesh((n,), (LANE_AXIS,), devices=devices[:n],
                       axis_types=(jax.sharding.AxisType.Auto,))


def place_lanes(mesh, tree):
  """Shards the leading (lane) axis of every array of `tree`."""
  if mesh is None:
    return tree
  return jax.device_put(tree, NamedSharding(mesh, P(LANE_AXIS)))
