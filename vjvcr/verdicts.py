"""Whether a measurement can test a claim at all, and what it says when it can.

Every comparison is read against its floor (what a trivial or untrained model gets) and, where
one exists, its ceiling (what the same architecture gets when trained for the task, or what is
linearly available in the representation). The rule, stated once:

* **not informative at this budget**: the best model compared is within noise of the floor
  (its lead over the floor is at most ``max(2 x its seed std, margin)``), or the ceiling itself
  is within ``margin`` of the floor: the experiment has not learned what it measures yet.
* otherwise the gap between the two sides of the claim decides: **holds** when it has the
  paper's sign and exceeds ``max(2 x the larger seed std of the two sides, margin / 2)``,
  **does not hold** when it is that large with the opposite sign, and **no difference beyond
  the seeds' spread** when it is smaller.

``margin`` is in the metric's own units (``MARGINS``). Values are "higher is better" (pass
``lower_is_better=True`` for MSE).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MARGINS = {"speed_mse": 0.05, "speed_r2": 0.05, "psnr": 0.5, "accuracy": 5.0, "map": 5.0}

HOLDS, REVERSED, TIE, UNINFORMATIVE, UNMEASURED = (
    "holds", "does not hold", "no difference beyond the seeds' spread", "not informative at this budget",
    "not measured")


@dataclass(frozen=True)
class Measured:
    """A mean over seeds and its spread (std over seeds; 0 for a single seed)."""

    mean: float
    std: float = 0.0

    @property
    def missing(self) -> bool:
        return self.mean is None or (isinstance(self.mean, float) and math.isnan(self.mean))


def _sign(lower_is_better: bool) -> int:
    return -1 if lower_is_better else 1


def informative(best: Measured, floor: float, *, margin: float, ceiling: float | None = None,
                lower_is_better: bool = False) -> bool:
    """Whether ``best`` (the best model compared) is clear of the floor, and the ceiling is too."""
    s = _sign(lower_is_better)
    if ceiling is not None and not math.isnan(ceiling) and s * (ceiling - floor) <= margin:
        return False
    return s * (best.mean - floor) > max(2 * best.std, margin)


def compare(better: Measured, worse: Measured, *, floor: float, margin: float, ceiling: float | None = None,
            lower_is_better: bool = False) -> str:
    """The verdict on "``better`` beats ``worse``" (the paper's claim), read against floor and ceiling."""
    if better.missing or worse.missing or floor is None or math.isnan(floor):
        return UNMEASURED
    s = _sign(lower_is_better)
    best = better if s * (better.mean - worse.mean) >= 0 else worse
    if not informative(best, floor, margin=margin, ceiling=ceiling, lower_is_better=lower_is_better):
        return UNINFORMATIVE
    gap = s * (better.mean - worse.mean)
    if abs(gap) <= max(2 * max(better.std, worse.std), margin / 2):
        return TIE
    return HOLDS if gap > 0 else REVERSED


def beats_floor(value: Measured, floor: float, *, margin: float, ceiling: float | None = None,
                lower_is_better: bool = False) -> str:
    """The verdict on "``value`` is above its floor" (e.g. z* carries the switch), against the ceiling.

    Not informative when the ceiling (what is available at all) is within ``margin`` of the floor.
    """
    if value.missing or floor is None or math.isnan(floor):
        return UNMEASURED
    s = _sign(lower_is_better)
    if ceiling is not None and not math.isnan(ceiling) and s * (ceiling - floor) <= margin:
        return UNINFORMATIVE
    return HOLDS if s * (value.mean - floor) > max(2 * value.std, margin) else REVERSED


def bold(verdict: str) -> str:
    return f"**{verdict}**"
