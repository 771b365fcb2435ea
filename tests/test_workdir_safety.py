"""The workdir against careless and hostile use: one process at a time (a
lock that dies with its holder), bad workdir paths, a full disk, a missing
config.json, and no code path that unpickles or evaluates data.

Each refusal is one InputError line (the CLI prints it as `error: ...`).
The read-only and full-disk cases mount a small tmpfs, so they need root
(skipped otherwise, except where chmod can stand in)."""

import contextlib
import errno
import json
import os
import subprocess
import sys
import tokenize

import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
from dip_jax.cli import flags as cli_flags
from dip_jax.cli import run
from dip_jax.errors import InputError
from dip_jax.fit import checkpoint
from dip_jax.io import report
from dip_jax.io import workdir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, str(os.getpid()).encode())
print("locked", flush=True)
time.sleep(300)
"""


def _one_line(e):
  text = str(e.value)
  assert "\n" not in text and text, text
  return text


def test_lock_is_exclusive_and_dies_with_its_holder(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, "-c", HOLD_LOCK, str(tmp_path / workdir.LOCK)],
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(InputError) as e:
      with workdir.locked(str(tmp_path)):
        pass
    assert f"is in use by another run (pid {holder.pid})" in _one_line(e)
  finally:
    holder.kill()  # as a crash would: the kernel drops its flock
    holder.wait()
  with workdir.locked(str(tmp_path)):
    assert (tmp_path / workdir.LOCK).read_text().strip() == str(os.getpid())
    with pytest.raises(InputError, match=f"pid {os.getpid()}"):
      with workdir.locked(str(tmp_path)):
        pass
  with workdir.locked(str(tmp_path)):  # released on the way out
    pass


@contextlib.contextmanager
def _tmpfs(path, size="2m"):
  """A small tmpfs mounted at `path` (skips the test where that is not
  possible: not root, or no mount in this container)."""
  if os.geteuid() != 0:
    pytest.skip("mounting a tmpfs needs root")
  os.makedirs(path, exist_ok=True)
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                            "tmpfs", str(path)], capture_output=True)
  if mounted.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
  try:
    yield path
  finally:
    subprocess.run(["umount", "-l", str(path)], check=False)


def _remount_read_only(path):
  subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def test_bad_workdir_paths_give_one_line(tmp_path):
  config = tiny_config(num_steps=2, log_every=2)
  a_file = tmp_path / "a_file"
  a_file.write_text("not a directory")
  with pytest.raises(InputError) as e:
    run.reconstruct(config, str(a_file))
  assert "exists and is not a directory" in _one_line(e)
  assert a_file.read_text() == "not a directory"

  with _tmpfs(tmp_path / "ro") as ro:
    (ro / "existing").mkdir()
    _remount_read_only(ro)
    for where, needle in ((ro / "existing", "is not writable: Read-only"),
                          (ro / "new" / "w", "cannot create workdir")):
      with pytest.raises(InputError) as e:
        run.reconstruct(config, str(where))
      assert needle in _one_line(e)


def test_full_disk_keeps_what_was_saved(tmp_path):
  state = {"w": jnp.ones((64, 32), jnp.float32), "step": jnp.int32(1)}
  history = {"loss": np.arange(4, dtype=np.float32)}
  with _tmpfs(tmp_path / "disk", size="1m") as disk:
    summary = str(disk / "summary.json")
    report.write_json(summary, {"psnr": 20.0})
    ckpt = checkpoint.Checkpointer(str(disk / "checkpoints"), keep=3)
    ckpt.save(1, state, history, {"seconds": 1.0})
    with open(disk / "filler", "wb") as f:  # fill what is left
      with contextlib.suppress(OSError):
        while True:
          f.write(b"\0" * 65536)
          f.flush()
    with pytest.raises(InputError) as e:
      ckpt.save(2, state, history, {"seconds": 2.0})
    assert "No space left on device" in _one_line(e)
    assert "older checkpoints are kept" in str(e.value)
    with pytest.raises(OSError) as e:
      report.write_json(summary, {"psnr": 30.0})
    assert e.value.errno == errno.ENOSPC
    assert "No space left on device" in cli_flags.os_error_line(e.value)
    ckpt.close()
    # What was there before the disk filled up still reads back.
    assert json.load(open(summary)) == {"psnr": 20.0}
    step, restored, _, _ = checkpoint.Checkpointer(
        str(disk / "checkpoints")).restore_latest(state)
    assert step == 1
    np.testing.assert_array_equal(restored["w"], state["w"])


def test_checkpoints_without_config_json_are_refused(tmp_path):
  config_json = json.loads(tiny_config().to_json())
  leftover = tmp_path / workdir.CHECKPOINTS / "100.orbax-checkpoint-tmp"
  leftover.mkdir(parents=True)
  # Only what a save killed at once leaves: nothing to resume, a fresh run.
  assert workdir.check(str(tmp_path), config_json) is None
  (tmp_path / workdir.CHECKPOINTS / "100").mkdir()
  with pytest.raises(InputError) as e:
    workdir.check(str(tmp_path), config_json)
  assert "no config.json" in _one_line(e)


# The calls that turn bytes into code or objects. Found by token, so words
# in comments and strings (e.g. "a module's eval() mode") do not count.
_UNSAFE_NAMES = {"pickle", "cPickle", "dill", "marshal", "shelve", "jsonpickle"}


def _unsafe_calls(path):
  with open(path, "rb") as f:
    tokens = [t for t in tokenize.tokenize(f.readline)
              if t.type in (tokenize.NAME, tokenize.OP)]
  text = [t.string for t in tokens]
  for i, t in enumerate(tokens):
    prev = text[i - 1] if i else ""
    nxt = text[i + 1: i + 3]
    where = f"{os.path.relpath(path, ROOT)}:{t.start[0]}"
    if t.string in _UNSAFE_NAMES:
      yield f"{where}: {t.string}"
    elif t.string in ("eval", "exec") and prev != "." and nxt[:1] == ["("]:
      yield f"{where}: {t.string}("
    elif t.string in ("allow_pickle", "shell") and nxt == ["=", "True"]:
      yield f"{where}: {t.string}=True"
    elif prev == "." and t.string == "load" and text[i - 2] == "yaml":
      yield f"{where}: yaml.load"
    elif prev == "." and t.string == "load" and text[i - 2] == "torch":
      call, depth = [], 0
      for s in text[i + 1:]:
        depth += {"(": 1, ")": -1}.get(s, 0)
        call.append(s)
        if depth == 0:
          break
      if "weights_only=True" not in "".join(call):
        yield f"{where}: torch.load without weights_only=True"


def test_no_unsafe_deserialization():
  found, scanned = [], 0
  for top in ("dip_jax", "experiments", "benchmarks", "configs"):
    for folder, _, files in os.walk(os.path.join(ROOT, top)):
      for name in files:
        if name.endswith(".py"):
          scanned += 1
          found += _unsafe_calls(os.path.join(folder, name))
  assert scanned > 20
  assert not found, "\n".join(found)


def test_the_scan_finds_what_it_looks_for(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text("import pickle\nx = eval(s)\nnp.load(p, allow_pickle=True)\n"
                 "subprocess.run(c, shell=True)\nyaml.load(f)\n"
                 "torch.load(p)\ntorch.load(p, weights_only=True)\n"
                 "model.eval()  # eval( in a comment\n")
  hits = list(_unsafe_calls(str(bad)))
  assert [h.split(": ", 1)[1] for h in hits] == [
      "pickle", "eval(", "allow_pickle=True", "shell=True", "yaml.load",
      "torch.load without weights_only=True"], hits
