"""The results tables of README.md and docs/**/*.md, generated from records.

A page asks for a table by name with a pair of markers:

  <!-- results:step_speed -->
  (whatever is here is replaced)
  <!-- /results:step_speed -->

and this module fills the block with RENDERERS[name](records) (the
renderers are in result_tables.py), the records being results/<name>/*.json
(records.py), plus a closing line that names the command reproducing them
and the device and versions they were measured with. Numbers in the pages
are thus never typed: a stale page is one whose block differs from what its
records give, and --check says which.

  python -m dip_jax.io.results_pages           # rewrite every block
  python -m dip_jax.io.results_pages --check   # exit 1 naming stale blocks
"""

import argparse
import glob
import os
import re
import sys

from dip_jax.errors import InputError
from dip_jax.io import records
from dip_jax.io.result_tables import RENDERERS

BLOCK = re.compile(r"(<!-- results:([\w-]+) -->)(.*?)(<!-- /results:\2 -->)",
                   re.S)
OPENING = re.compile(r"<!-- results:([\w-]+) -->")
COMMAND = "python -m dip_jax.io.results_pages"


def provenance(name: str, recs: list[dict]) -> str:
  """The closing line: what reproduces the table, and what measured it."""
  rec = recs[-1]
  dev = rec.get("device", {})
  where = (f"CPU ({dev.get('cpu') or 'unknown model'}, {dev.get('cores')} "
           f"cores)" if dev.get("platform") == "cpu" else
           f"{dev.get('count')} x {dev.get('kind')} ({dev.get('platform')}; "
           f"host CPU {dev.get('cpu') or 'unknown'})")
  versions = ", ".join(f"{k} {v}" for k, v in sorted(
      rec.get("versions", {}).items()) if v is not None)
  return (f"*Reproduce: `{rec['command']}`, then `{COMMAND}`. Measured on "
          f"{where}; {versions}. From results/{name}/ (the latest of "
          f"{len(recs)} record{'s' * (len(recs) != 1)}).*")


def render_block(name: str, results_dir: str | None = None) -> str:
  """The block's text for table `name` from its records."""
  if name not in RENDERERS:
    raise InputError(f"no renderer for results block {name!r} (known: "
                     f"{', '.join(sorted(RENDERERS))})")
  recs = records.load(name, results_dir)
  if not recs:
    raise InputError(f"results block {name!r} has no record: no "
                     f"results/{name}/*.json")
  try:
    lines = RENDERERS[name](recs)
  except (KeyError, TypeError, ZeroDivisionError) as e:
    raise InputError(f"results/{name}/{recs[-1].get('run_id')}.json: not "
                     f"what the {name} table reads ({e!r})") from e
  return "\n".join(lines + ["", provenance(name, recs)]) + "\n"


def render_text(text: str, results_dir: str | None = None,
                where: str = "") -> tuple[str, list[str]]:
  """`text` with every results block re-rendered, and the names of the
  blocks whose content changed."""
  opened = OPENING.findall(text)
  closed = [m.group(2) for m in BLOCK.finditer(text)]
  if sorted(opened) != sorted(closed):
    unclosed = sorted(set(opened) - set(closed)) or opened
    raise InputError(f"{where}: results block {unclosed[0]!r} has no "
                     f"closing <!-- /results:{unclosed[0]} --> marker")
  changed = []

  def fill(m):
    try:
      # A blank line after the opening marker and before the closing one,
      # so the table is a Markdown block of its own.
      body = "\n\n" + render_block(m.group(2), results_dir) + "\n"
    except InputError as e:
      raise InputError(f"{where}: {e}") from e
    if body != m.group(3):
      changed.append(m.group(2))
    return m.group(1) + body + m.group(4)
  return BLOCK.sub(fill, text), changed


def pages(root: str) -> list[str]:
  """README.md and docs/**/*.md under `root` (those that exist)."""
  found = [os.path.join(root, "README.md")]
  found += sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"),
                            recursive=True))
  return [p for p in found if os.path.isfile(p)]


def update(root: str = records.ROOT, results_dir: str | None = None,
           check: bool = False) -> list[str]:
  """Re-renders every page's blocks (writing them unless `check`).

  Returns:
    "<page>: <block>" for each block that differed from its records.
  """
  stale = []
  for path in pages(root):
    with open(path) as f:
      text = f.read()
    rel = os.path.relpath(path, root)
    new, changed = render_text(text, results_dir, rel)
    stale += [f"{rel}: {name}" for name in changed]
    if changed and not check:
      with open(path, "w") as f:
        f.write(new)
  return stale


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--check", action="store_true",
                 help="change nothing; exit 1 naming every stale block")
  p.add_argument("--root", default=records.ROOT,
                 help="the repository whose pages are rendered")
  p.add_argument("--results", default=None,
                 help="the records' folder (default: ROOT/results)")
  args = p.parse_args(argv)
  results_dir = args.results or os.path.join(args.root, "results")
  try:
    stale = update(args.root, results_dir, args.check)
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  for s in stale:
    print(f"{s}: {'differs from its records' if args.check else 'rewritten'}",
          file=sys.stderr if args.check else sys.stdout)
  return 1 if stale and args.check else 0


if __name__ == "__main__":
  sys.exit(main())
