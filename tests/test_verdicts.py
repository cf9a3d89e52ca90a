"""The rule that separates 'does not hold' from 'not informative', with every seed of one side against every seed of the other."""
import math

import pytest

from vjvcr.verdicts import HOLDS, REVERSED, TIE, UNINFORMATIVE, UNMEASURED, Measured, beats_floor, compare, overall


def m(*values):
    return Measured.of(values)


def test_the_spread_is_the_sample_standard_deviation():
    assert m(1.0, 2.0, 3.0).std == pytest.approx(1.0)  # ddof = 1: sqrt(2 / 2)
    assert m(0.5, 0.7).std == pytest.approx(math.sqrt(0.02))  # two seeds: |a - b| / sqrt(2), not |a - b| / 2
    assert math.isnan(m(0.4).std) and m(0.4).text() == "0.400"
    assert m(float("nan"), 0.3).values == (0.3,)


def test_a_comparison_at_the_floor_is_not_informative():
    # the side ahead is not clear of the random encoder on every seed: nothing learned, whichever leads
    assert compare(m(0.06, 0.12, 0.07), m(0.02, 0.03, 0.01), floor=0.04, margin=0.05) == UNINFORMATIVE


def test_a_ceiling_at_the_floor_makes_the_comparison_uninformative():
    assert compare(m(0.5, 0.5), m(0.3, 0.3), floor=0.0, ceiling=0.03, margin=0.05) == UNINFORMATIVE


def test_a_verdict_needs_every_seed_of_one_side_beyond_every_seed_of_the_other():
    kw = dict(floor=0.05, ceiling=0.95, margin=0.05)
    assert compare(m(0.70, 0.68, 0.72), m(0.40, 0.45, 0.38), **kw) == HOLDS
    assert compare(m(0.40, 0.45, 0.38), m(0.70, 0.68, 0.72), **kw) == REVERSED
    # the means differ by 0.2, but one seed of each overlaps: no dominance, whatever the means say
    assert compare(m(0.80, 0.80, 0.45), m(0.50, 0.50, 0.45), **kw) == TIE
    # every seed ahead, but by less than the margin
    assert compare(m(0.70, 0.71), m(0.67, 0.66), **kw) == TIE
    assert REVERSED == "does not hold at this budget"


def test_lower_is_better_flips_every_direction():
    kw = dict(floor=0.95, ceiling=0.05, margin=0.05, lower_is_better=True)  # MSE: floor is the high one
    assert compare(m(0.30, 0.32, 0.29), m(0.60, 0.62, 0.58), **kw) == HOLDS
    assert compare(m(0.60, 0.62, 0.58), m(0.30, 0.32, 0.29), **kw) == REVERSED
    assert compare(m(0.93, 0.92), m(0.94, 0.95), **kw) == UNINFORMATIVE


def test_beats_floor_tells_no_signal_from_no_information():
    # the representation carries the switch (ceiling 90%) but z* sits at chance: does not hold
    assert beats_floor(m(21.0, 22.0, 20.0), 20.0, ceiling=90.0, margin=5.0) == REVERSED
    # nothing carries it (ceiling at chance): not informative
    assert beats_floor(m(21.0, 22.0), 20.0, ceiling=22.0, margin=5.0) == UNINFORMATIVE
    assert beats_floor(m(60.0, 55.0, 58.0), 20.0, ceiling=90.0, margin=5.0) == HOLDS
    assert beats_floor(m(60.0, 22.0), 20.0, ceiling=90.0, margin=5.0) == TIE  # one seed learned, one did not
    assert beats_floor(m(), 20.0, margin=5.0) == UNMEASURED


def test_one_verdict_for_several_pairs_reports_the_worst():
    assert overall([HOLDS, HOLDS]) == HOLDS
    assert overall([HOLDS, TIE]) == TIE
    assert overall([HOLDS, UNINFORMATIVE, REVERSED]) == REVERSED


def _fig2_files(folder, means: dict):
    """fig2_cater_map.csv and its per-seed twin, three seeds per model around the given means (oracle: one value)."""
    import pandas as pd

    per, agg = [], []
    for model, mean in means.items():
        seeds = [0] if model == "oracle" else [0, 1, 2]
        vals = [mean] if model == "oracle" else [mean - 0.5, mean, mean + 0.5]
        per += [dict(model=model, seed=s, map=v, chance=11.4, classes=14) for s, v in zip(seeds, vals)]
        agg.append(dict(model=model, map_mean=mean, map_std=0.5, paper_map=float("nan"), seed_count=len(seeds),
                        chance=11.4, source="twin"))
    pd.DataFrame(per).to_csv(folder / "fig2_cater_map_per_seed.csv", index=False)
    pd.DataFrame(agg).to_csv(folder / "fig2_cater_map.csv", index=False)


def _claim6(text: str) -> str:
    return [line for line in text.splitlines() if line.startswith("| 6.")][0]


def test_claim6_reads_the_representations_ceilings_not_the_oracle(tmp_path):
    from vjvcr.claims import render_fig2

    # the annotations make the actions trivial (oracle 99.9) but no representation carries them: not informative
    _fig2_files(tmp_path, dict(vjvcr=12.2, gen=13.1, random=12.4, vjvcr_h=12.7, gen_h=12.6, supervised_h=12.9,
                               oracle=99.9))
    assert UNINFORMATIVE in _claim6(render_fig2(tmp_path))
    # once a representation carries them and both z* clear random z, the ordering is tested
    _fig2_files(tmp_path, dict(vjvcr=40.0, gen=25.0, random=12.4, vjvcr_h=45.0, gen_h=30.0, supervised_h=50.0,
                               oracle=99.9))
    assert f"**{HOLDS}**" in _claim6(render_fig2(tmp_path))
    _fig2_files(tmp_path, dict(vjvcr=25.0, gen=40.0, random=12.4, vjvcr_h=45.0, gen_h=30.0, supervised_h=50.0))
    assert REVERSED in _claim6(render_fig2(tmp_path))


def test_fig2_names_its_profile_with_or_without_a_data_summary(tmp_path):
    """A Fig. 2 run alone (budget_probe's) has no data summary: the step passes its profile's name."""
    from vjvcr.claims import render_fig2

    _fig2_files(tmp_path, dict(vjvcr=12.2, gen=13.1, random=12.4))
    assert "profile `?`" in render_fig2(tmp_path)
    assert "profile `budget`" in render_fig2(tmp_path, profile="budget")
    (tmp_path / "data_summary.json").write_text('{"profile": "quick"}')
    assert "profile `quick`" in render_fig2(tmp_path)


def test_the_readme_headline_gives_a_pairwise_claim_its_overall_verdict(tmp_path):
    """claims.md's first row of a claim holds its first pair's verdict; the headline must show the overall one."""
    from vjvcr.readme import claim_lines

    (tmp_path / "claims.md").write_text(
        "| claim | paper | pair | ours | verdict |\n|---|---|---|---|---|\n"
        "| 1a. Speed is decodable | 0.04 vs 0.10 | A vs B | 0.7 vs 0.9 | **holds** |\n"
        "|  |  | A vs C | 0.7 vs 0.3 | **does not hold at this budget** |\n"
        "| | | *speed MSE* | | **does not hold at this budget** overall |\n"
        "| 3. Rank collapses | 160 vs 360 | A vs C | 49 vs 40 | **holds** |\n")
    (tmp_path / "fig2.md").write_text("| claim | paper | verdict here |\n|---|---|---|\n"
                                      "| 6. z* predicts actions | 67 > 54 | **not informative at this budget** |\n")
    assert claim_lines(tmp_path) == ["- 1a. Speed is decodable: **does not hold at this budget**",
                                     "- 3. Rank collapses: **holds**",
                                     "- 6. z* predicts actions: **not informative at this budget**"]
