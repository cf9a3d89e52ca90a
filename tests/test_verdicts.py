"""The rule that separates 'does not hold' from 'not informative at this budget'."""
from vjvcr.verdicts import HOLDS, REVERSED, TIE, UNINFORMATIVE, UNMEASURED, Measured, beats_floor, compare


def test_a_comparison_at_the_floor_is_not_informative():
    # both models within noise of the random encoder: nothing learned, whichever is ahead
    assert compare(Measured(0.06, 0.02), Measured(0.02, 0.01), floor=0.04, margin=0.05) == UNINFORMATIVE


def test_a_ceiling_at_the_floor_makes_the_comparison_uninformative():
    assert compare(Measured(0.5), Measured(0.3), floor=0.0, ceiling=0.03, margin=0.05) == UNINFORMATIVE


def test_real_gaps_hold_or_are_reversed_and_small_ones_tie():
    kw = dict(floor=0.05, ceiling=0.95, margin=0.05)
    assert compare(Measured(0.70, 0.02), Measured(0.40, 0.03), **kw) == HOLDS
    assert compare(Measured(0.40, 0.03), Measured(0.70, 0.02), **kw) == REVERSED
    assert compare(Measured(0.70, 0.05), Measured(0.66, 0.05), **kw) == TIE  # gap 0.04 < 2 x 0.05


def test_lower_is_better_flips_every_direction():
    kw = dict(floor=0.95, ceiling=0.05, margin=0.05, lower_is_better=True)  # MSE: floor is the high one
    assert compare(Measured(0.30, 0.01), Measured(0.60, 0.01), **kw) == HOLDS
    assert compare(Measured(0.60, 0.01), Measured(0.30, 0.01), **kw) == REVERSED
    assert compare(Measured(0.93, 0.01), Measured(0.94, 0.01), **kw) == UNINFORMATIVE


def test_beats_floor_tells_no_signal_from_no_information():
    # the representation carries the switch (ceiling 90%) but z* sits at chance: does not hold
    assert beats_floor(Measured(21.0, 1.0), 20.0, ceiling=90.0, margin=5.0) == REVERSED
    # nothing carries it (ceiling at chance): not informative
    assert beats_floor(Measured(21.0, 1.0), 20.0, ceiling=22.0, margin=5.0) == UNINFORMATIVE
    assert beats_floor(Measured(60.0, 3.0), 20.0, ceiling=90.0, margin=5.0) == HOLDS
    assert beats_floor(Measured(float("nan")), 20.0, margin=5.0) == UNMEASURED
