"""How high can any function of the input frames go on CLEVRER's speed labels? The oracles and what bounds them.

    python benchmarks/clevrer_oracle.py --data DIR [--profile quick] --out benchmarks/results/clevrer_oracle.md

Two labels (``vjvcr.data.clevrer``): ``speed_shown`` (the experiments' default), the mean speed over all of a
clip's frames of the objects whose motion its input frames show, and ``speed``, the same over every visible
object, also those that come into view during the target frames. This fits, on the annotations of the
profile's twin (second half of the training videos; scored on the validation videos, as ``02_probing`` does):

* the pipeline's oracle: a linear fit on the speed the input frames' annotated positions give;
* an extrapolating oracle: every object seen in the last two input frames moves on in a straight line at
  its last speed, and counts while its centre stays inside the twin's camera view (``VIEW``), which is
  what a perfect physics model without collisions or new arrivals would predict; linear fit on both;
* gradient boosting (scikit-learn) on those two and the number of objects seen;

and splits the validation clips by what happens after the input frames: an object comes into view that the
input did not show (no function of the input frames can foresee it), a collision only (a perfect simulator
of the seen objects could foresee it; the straight-line extrapolation does not), or neither. Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr.config import get_profile  # noqa: E402
from vjvcr.data.clevrer import VIEW, annotation_path, clip_windows, speed_labels, trajectory_arrays  # noqa: E402
from vjvcr.datasets import ClipSet  # noqa: E402
from vjvcr.probes import linear_probe  # noqa: E402


def window_features(ann: dict, window: list, num_input: int) -> dict:
    """The label, the two oracles' features, and whether an arrival or a collision follows the input frames."""
    ids, loc, vis = trajectory_arrays(ann)
    row = {int(f): r for r, f in enumerate(ids)}
    a, b = row[window[num_input - 2]], row[window[num_input - 1]]
    seen = vis[a] & vis[b]
    last = window[num_input - 1]
    vel = (loc[b, seen, :2] - loc[a, seen, :2]) / (window[num_input - 1] - window[num_input - 2])
    pos = loc[b, seen, :2]

    def inside(q):
        return (np.abs(q[:, 0]) <= VIEW[0]) & (np.abs(q[:, 1]) <= VIEW[1])

    steps = []
    for f0, f1 in zip(window[:-1], window[1:]):
        if f1 <= last:  # what the input frames show
            both = vis[row[f0]] & vis[row[f1]]
            steps += list(np.linalg.norm(loc[row[f1], both, :2] - loc[row[f0], both, :2], axis=1) / (f1 - f0))
        else:  # straight on at the last speed, while inside the view
            keep = inside(pos + vel * (f0 - last)) & inside(pos + vel * (f1 - last))
            steps += list(np.linalg.norm(vel[keep], axis=1))
    later = [row[f] for f in window if f > last]
    arrival = bool((vis[later] & ~seen).any())
    collision = any(last < c["frame_id"] <= window[-1] for c in ann.get("collision", []))
    return dict(speed=speed_labels(ann, window), speed_shown=speed_labels(ann, window, shown_by=num_input),
                input=speed_labels(ann, window[:num_input]),
                extrapolated=float(np.mean(steps)) if steps else 0.0, seen=int(seen.sum()),
                arrival=arrival, collision=collision)


def table(root: Path, split: str, indices, cfg) -> dict:
    rows = []
    for i in indices:
        ann = json.loads(annotation_path(root, split, i).read_text())
        for w in clip_windows(len(ann["motion_trajectory"]), num_frames=cfg.num_frames, stride=cfg.stride,
                              start=cfg.start, clips_per_video=cfg.clips_per_video):
            rows.append(window_features(ann, w, cfg.num_input))
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def main(argv=None):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import r2_score

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    cfg = get_profile(a.profile).clevrer
    root, kind = ClipSet("clevrer", "train", cfg).ensure_source(a.data)
    half = cfg.num_train // 2
    tr = table(root, "train", range(half, cfg.num_train), cfg)  # the probes' fitting half
    te = table(root, "validation", range(10_000, 10_000 + cfg.num_test), cfg)
    alphas = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
    labels = ("speed_shown", "speed")
    feats = ["input", "extrapolated", "seen"]

    def standard(label):
        mu, sd = tr[label].mean(), tr[label].std()
        return (tr[label] - mu) / sd, (te[label] - mu) / sd

    def linear(label, cols, rows=slice(None)):
        y_tr, y_te = standard(label)
        return linear_probe(np.stack([tr[c] for c in cols], 1), y_tr, np.stack([te[c] for c in cols], 1)[rows],
                            y_te[rows], alpha=alphas)["r2"]

    def boosted(label):
        y_tr, y_te = standard(label)
        gb = HistGradientBoostingRegressor(max_iter=300, random_state=0)
        gb.fit(np.stack([tr[c] for c in feats], 1), y_tr)
        return r2_score(y_te, gb.predict(np.stack([te[c] for c in feats], 1)))

    lines = ["| oracle | validation R², `speed_shown` (the experiments' label) | validation R², `speed` "
             "(every visible object) |", "|---|---|---|"]
    for name, cols in (("linear on the input frames' speed (the pipeline's)", ["input"]),
                       ("linear on the straight-line extrapolation", ["extrapolated"]),
                       ("linear on both", ["input", "extrapolated"])):
        lines.append(f"| {name} | " + " | ".join(f"{linear(lab, cols):.3f}" for lab in labels) + " |")
    lines.append("| gradient boosting on input speed, extrapolation, objects seen | "
                 + " | ".join(f"{boosted(lab):.3f}" for lab in labels) + " |")
    arrival, collision = te["arrival"], te["collision"] & ~te["arrival"]
    split = ["", "| validation clips, by what follows the input frames | share | R² within them, linear on the "
             "extrapolation: `speed_shown` | `speed` |", "|---|---|---|---|"]
    for name, rows in (("neither an arrival nor a collision", ~arrival & ~collision),
                       ("a collision, no arrival", collision), ("an object arrives in view", arrival)):
        split.append(f"| {name} | {rows.mean():.0%} | "
                     + " | ".join(f"{linear(lab, ['extrapolated'], rows):.3f}" for lab in labels) + " |")
    text = "\n".join([f"# CLEVRER speed oracles (profile `{a.profile}`, {kind} data: {len(tr['speed'])} fitting "
                      f"clips, {len(te['speed'])} validation clips)", "",
                      "R² of each speed label from what a clip's input frames show (`benchmarks/clevrer_oracle.py`).",
                      "", *lines, *split]) + "\n"
    publish(text, a.out)


if __name__ == "__main__":
    main()
