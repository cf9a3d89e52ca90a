"""Whether a measurement can test a claim at all, and what it says when it can.

Every comparison is read against its floor (what a trivial or untrained model gets) and, where
one exists, its ceiling (what the same architecture gets when trained for the task, or what is
available in the representation). Values are kept per seed. The rule, stated once:

* **not informative at this budget**: the ceiling is within ``margin`` of the floor, or the side
  ahead is not clear of the floor on *every* seed (by more than ``margin``): the experiment has
  not learned what it measures yet.
* otherwise **holds** when every seed of the side the paper puts ahead beats every seed of the
  other side by more than ``margin``; **does not hold at this budget** when every seed of the other
  side beats every seed of it by more than ``margin``; **no difference beyond the seeds' spread**
  when neither side dominates.

``margin`` is in the metric's own units (``MARGINS``). Values are "higher is better" (pass
``lower_is_better=True`` for MSE). Standard deviations shown beside means use ddof = 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MARGINS = {"speed_mse": 0.05, "speed_r2": 0.05, "psnr": 0.5, "accuracy": 5.0, "map": 5.0}

HOLDS, REVERSED, TIE, UNINFORMATIVE, UNMEASURED = (
    "holds", "does not hold at this budget", "no difference beyond the seeds' spread",
    "not informative at this budget", "not measured")


@dataclass(frozen=True)
class Measured:
    """One value per seed."""

    values: tuple = ()

    @classmethod
    def of(cls, values) -> "Measured":
        return cls(tuple(float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))))

    @property
    def missing(self) -> bool:
        return not self.values

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values) if self.values else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (ddof = 1); nan for one seed."""
        n = len(self.values)
        if n < 2:
            return math.nan
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (n - 1))

    def worst(self, lower_is_better: bool = False) -> float:
        return max(self.values) if lower_is_better else min(self.values)

    def best(self, lower_is_better: bool = False) -> float:
        return min(self.values) if lower_is_better else max(self.values)

    def text(self, digits: int = 3) -> str:
        """'mean ± std (n seeds)', or the one value."""
        if self.missing:
            return "–"
        if len(self.values) == 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def _sign(lower_is_better: bool) -> int:
    return -1 if lower_is_better else 1


def _bad(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def informative(ahead: Measured, floor: float, *, margin: float, ceiling: float | None = None,
                lower_is_better: bool = False) -> bool:
    """Whether every seed of ``ahead`` is clear of the floor by more than ``margin``, and the ceiling is too."""
    s = _sign(lower_is_better)
    if not _bad(ceiling) and s * (ceiling - floor) <= margin:
        return False
    return s * (ahead.worst(lower_is_better) - floor) > margin


def dominates(a: Measured, b: Measured, *, margin: float, lower_is_better: bool = False) -> bool:
    """Every seed of ``a`` beats every seed of ``b`` by more than ``margin``."""
    s = _sign(lower_is_better)
    return s * (a.worst(lower_is_better) - b.best(lower_is_better)) > margin


def compare(better: Measured, worse: Measured, *, floor: float, margin: float, ceiling: float | None = None,
            lower_is_better: bool = False) -> str:
    """The verdict on "``better`` beats ``worse``" (the paper's claim), read against floor and ceiling."""
    if better.missing or worse.missing or _bad(floor):
        return UNMEASURED
    s = _sign(lower_is_better)
    ahead = better if s * (better.mean - worse.mean) >= 0 else worse
    if not informative(ahead, floor, margin=margin, ceiling=ceiling, lower_is_better=lower_is_better):
        return UNINFORMATIVE
    if dominates(better, worse, margin=margin, lower_is_better=lower_is_better):
        return HOLDS
    if dominates(worse, better, margin=margin, lower_is_better=lower_is_better):
        return REVERSED
    return TIE


def beats_floor(value: Measured, floor: float, *, margin: float, ceiling: float | None = None,
                lower_is_better: bool = False) -> str:
    """The verdict on "``value`` is above its floor" (e.g. z* carries the switch), against the ceiling.

    Not informative when the ceiling (what is available at all) is within ``margin`` of the floor;
    holds when every seed clears the floor by more than ``margin``, does not hold when none does.
    """
    if value.missing or _bad(floor):
        return UNMEASURED
    s = _sign(lower_is_better)
    if not _bad(ceiling) and s * (ceiling - floor) <= margin:
        return UNINFORMATIVE
    if s * (value.worst(lower_is_better) - floor) > margin:
        return HOLDS
    if s * (value.best(lower_is_better) - floor) <= margin:
        return REVERSED
    return TIE


def overall(verdicts: list[str]) -> str:
    """One verdict for a claim made of several comparisons: a reversal wins, then 'not informative', then ties."""
    for v in (REVERSED, UNINFORMATIVE, TIE, UNMEASURED):
        if v in verdicts:
            return v
    return HOLDS if verdicts else UNMEASURED


def bold(verdict: str) -> str:
    return f"**{verdict}**"
