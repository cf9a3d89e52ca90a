"""How much did the test clips whose digit has not moved lift the per-step PSNR floor? A check, not a figure.

    python benchmarks/psnr_static_clips.py --data DIR [--out benchmarks/results/psnr_static_clips.md]

Until 2026-12-02 the PSNR of each target step (``fig5_psnr_per_step.csv``) was the mean over all test clips of each
clip's PSNR, which ``vjvcr.analysis.psnr`` caps at 100 dB. In a clip whose digit has not moved a whole pixel since
the last input frame, repeating that frame is exact, so the "last input frame repeated" floor counted such clips at
100 dB. Every row of the per-step PSNR is now averaged over the clips whose target frame differs from the last input
frame (``vjvcr.analysis.moved_since_last_input``). This prints, for the quick profile's test clips, the first three
target steps by both rules: the two floors and, when DIR holds the quick profile's trained Fig. 5 pair, its two
models (so that the per-step values in the benchmark files written before can be read against the right floor).
Asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr import plans  # noqa: E402
from vjvcr.analysis import moved_since_last_input, psnr_per_step  # noqa: E402
from vjvcr.context import setup  # noqa: E402
from vjvcr.device import pick_device  # noqa: E402
from vjvcr.steps.data import prepare_data  # noqa: E402
from vjvcr.steps.reconstructions import decoded  # noqa: E402

STEPS = 3
LABELS = {"black": "floor: all-black frames", "copy_last": "floor: last input frame repeated",
          "gen": "Fig. 5 pair: generative without VC", "vjvcr_dec": "Fig. 5 pair: VJ-VCR with decoder"}


def rows(preds: dict, target: np.ndarray, keep: np.ndarray) -> list[str]:
    """One Markdown row per prediction: steps 1..STEPS and their mean, over every clip and over the moved ones."""
    out = []
    for name, pred in preds.items():
        every, moved = psnr_per_step(pred, target)[:STEPS], psnr_per_step(pred, target, keep)[:STEPS]
        cells = [f"{a:.2f} / {b:.2f}" for a, b in zip(every, moved)]
        out.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + f" | {every.mean():.2f} / {moved.mean():.2f} |")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data",
                    help="a data folder of the quick profile (its MovingMNIST clips, generated when missing)")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = setup("quick", Path(tmp) / "out", a.data)
        p = ctx.profile
        test = prepare_data(ctx, stochastic=False)["test"].frames[:p.analysis.num_clips]
        n_in = p.data.num_input
        target = test[:, n_in:].astype(np.float32) / 255
        last = np.broadcast_to(test[:, n_in - 1:n_in].astype(np.float32) / 255, target.shape)
        keep = moved_since_last_input(test, n_in)
        preds = {"black": np.zeros_like(target), "copy_last": last}
        pair = [r for r in plans.reconstruction(ctx) if (r.folder / "last.pt").exists()]
        if len(pair) == 2:
            preds.update({r.variant: rec for r, rec in decoded(ctx, pair, test, str(pick_device("cpu"))).items()})
    lines = ["# Per-step PSNR with and without the clips whose digit has not moved", "",
             f"The quick profile's {len(test):,} test clips. Each cell: the mean over every clip (the rule before "
             "2026-12-02, exact copies at the 100 dB cap) / the mean over the clips whose target frame differs from "
             "the last input frame (`vjvcr.analysis.moved_since_last_input`, the rule since). `python benchmarks/"
             "psnr_static_clips.py`.", "",
             "| prediction | " + " | ".join(f"step {k + 1}" for k in range(STEPS)) + f" | first {STEPS} |",
             "|---" * (STEPS + 2) + "|", *rows(preds, target, keep), "",
             "Clips left out (the target frame equals the last input frame, so repeating it reaches the cap): "
             + ", ".join(f"step {k + 1}: {int((~keep[:, k]).sum())}" for k in range(STEPS)) + "."]
    if len(preds) == 2:
        lines += ["", f"No trained Fig. 5 pair in {a.data} (the quick profile's `fig5_*` runs): floors only."]
    publish("\n".join(lines) + "\n", a.out)


if __name__ == "__main__":
    main()
