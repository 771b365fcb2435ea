"""Claims with their uncertainty: is method A better than B, and by how much?

A claim compares paired numbers: the same (image, seed) run by A and by B.
The pairs' differences carry the comparison (an image that is hard for both
cancels out), so the verdict rests on the paired difference's mean and its
95 % t interval, not on the two means' overlap:

  c = claims.compare(claims.pairs(rows, "dip", "tv", "psnr"))
  claims.verdict(c, "DIP", "TV")
  # 'DIP beats TV by 1.93 dB (95 % CI [1.21, 2.65], 9 pairs)'
"""

import dataclasses
import math
import statistics

from dip_jax.errors import InputError

# The t distribution's 0.975 quantile for 1..60 degrees of freedom (scipy's
# stats.t.ppf, 4 decimals): used where scipy is not installed.
T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306,
        2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199,
        2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639,
        2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423, 2.0395, 2.0369,
        2.0345, 2.0322, 2.0301, 2.0281, 2.0262, 2.0244, 2.0227, 2.0211,
        2.0195, 2.0181, 2.0167, 2.0154, 2.0141, 2.0129, 2.0117, 2.0106,
        2.0096, 2.0086, 2.0076, 2.0066, 2.0057, 2.0049, 2.004, 2.0032,
        2.0025, 2.0017, 2.001, 2.0003)
Z975 = 1.959964  # the normal distribution's 0.975 quantile


def t975(df: int) -> float:
  """The two-sided 95 % t quantile for `df` degrees of freedom."""
  if df < 1:
    raise InputError(f"a t interval needs at least 1 degree of freedom, "
                     f"got {df}")
  try:
    from scipy import stats  # pylint: disable=g-import-not-at-top
    return float(stats.t.ppf(0.975, df))
  except ImportError:
    pass
  if df <= len(T975):
    return T975[df - 1]
  # Past the table: the Cornish-Fisher expansion around the normal quantile
  # (under 1e-4 off for df > 60).
  z = Z975
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (
      96 * df ** 2)


@dataclasses.dataclass(frozen=True)
class Comparison:
  """A against B over n pairs: each side's mean and sd, and the paired
  difference A - B's mean, sd and 95 % confidence interval."""
  n: int
  mean_a: float
  sd_a: float
  mean_b: float
  sd_b: float
  diff_mean: float
  diff_sd: float
  ci: tuple[float, float]


def pairs(rows: list[dict], a: str, b: str, metric: str,
          method_key: str = "method") -> tuple[list, list]:
  """A's and B's `metric`, paired on (image, seed), from record rows.

  Args:
    rows: a record's rows, each with image, seed, `method_key` and metric.
    a: the method (value of `method_key`) on the A side; b: on the B side.
    metric: the number compared (e.g. "psnr").
    method_key: the row key naming the method.

  Returns:
    (A's values, B's values), in the same (image, seed) order.
  """
  def side(method):
    out = {}
    for r in rows:
      if r.get(method_key) == method and r.get(metric) is not None:
        key = (r.get("image"), r.get("seed"))
        if key in out:
          raise InputError(f"{method}: two rows for image/seed {key}")
        out[key] = float(r[metric])
    return out
  sa, sb = side(a), side(b)
  if set(sa) != set(sb):
    raise InputError(f"{a} and {b} are not paired: (image, seed) only in "
                     f"{a}: {sorted(set(sa) - set(sb), key=str)}, only in "
                     f"{b}: {sorted(set(sb) - set(sa), key=str)}")
  keys = sorted(sa, key=str)
  return [sa[k] for k in keys], [sb[k] for k in keys]


def compare(values: tuple[list, list]) -> Comparison:
  """Paired comparison of A and B (`values`: A's and B's numbers, same
  order, at least 2 pairs)."""
  a, b = (list(map(float, v)) for v in values)
  if len(a) != len(b):
    raise InputError(f"paired numbers of unequal length: {len(a)} vs "
                     f"{len(b)}")
  if len(a) < 2:
    raise InputError(f"a 95 % interval needs at least 2 pairs, got {len(a)}")
  if not all(math.isfinite(x) for x in a + b):
    raise InputError("paired numbers must be finite (a failed run?)")
  d = [x - y for x, y in zip(a, b)]
  n, mean, sd = len(d), statistics.fmean(d), statistics.stdev(d)
  half = t975(n - 1) * sd / math.sqrt(n)
  return Comparison(n=n, mean_a=statistics.fmean(a), sd_a=statistics.stdev(a),
                    mean_b=statistics.fmean(b), sd_b=statistics.stdev(b),
                    diff_mean=mean, diff_sd=sd, ci=(mean - half, mean + half))


def signed(v: float, digits: int = 2) -> str:
  """`v` with its sign, and none where it rounds to zero: "0.00", never
  "-0.00" (an interval's end just below 0 would read as a negative one)."""
  text = f"{v:+.{digits}f}"
  return text[1:] if float(text) == 0 else text


def verdict(c: Comparison, a: str, b: str, unit: str = "dB",
            digits: int = 2) -> str:
  """The comparison in words: who beats whom and by how much, or that the
  interval holds 0 (no difference shown)."""
  f = lambda x: f"{x:.{digits}f}"
  lo, hi = c.ci
  tail = f"{c.n} pairs"
  if lo > 0:
    return (f"{a} beats {b} by {f(c.diff_mean)} {unit} (95 % CI "
            f"[{f(lo)}, {f(hi)}], {tail})")
  if hi < 0:
    return (f"{b} beats {a} by {f(-c.diff_mean)} {unit} (95 % CI "
            f"[{f(-hi)}, {f(-lo)}], {tail})")
  # Signed: this interval spans 0, so its ends differ in sign.
  return (f"no difference between {a} and {b}: the 95 % interval "
          f"[{signed(lo, digits)}, {signed(hi, digits)}] {unit} of {a} - {b} "
          f"holds 0 ({tail})")


def summary(c: Comparison, a: str, b: str, unit: str = "dB",
            digits: int = 2) -> str:
  """Each side's mean ± sd, then the verdict."""
  f = lambda x: f"{x:.{digits}f}"
  return (f"{a} {f(c.mean_a)} ± {f(c.sd_a)} {unit}, {b} {f(c.mean_b)} ± "
          f"{f(c.sd_b)} {unit}: " + verdict(c, a, b, unit, digits))
