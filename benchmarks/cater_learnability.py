"""Can any model learn Fig. 2's signal from these clips? A reference 3D CNN trained on the CATER action labels.

    python benchmarks/cater_learnability.py --out benchmarks/results/cater_learnability.md [--data DIR]

Fig. 2's ceilings (the project's video encoder trained on the actions, then the linear classifier on its
[h_x, h_y]) stay within a few mAP points of chance on the quick profile's twin (``budget_probe.py``). That
leaves two explanations apart: the clips do not show the actions at 32x32 (objects 2.5-5 pixels across), or
the encoder cannot pick them out. This script trains a network built for the task, not the project's
encoder: four 3x3x3 convolutions over (time, height, width) with batch norm and ReLU, stride 2 in space from
the second on (16-32-64-128 channels), so that motion is seen at every scale, then a max over space and time
(an action counts wherever it happens) and a linear head, with the binary cross-entropy on the actions of the
target frames (the pipeline's clip labels), AdamW at lr 1e-3, batch 32, mirrored clips half of the time.
Afterwards its head is dropped and the pipeline's own classifier (``vjvcr.steps.cater.multilabel_map``: one
logistic regression per class on the standardised features) is fitted on the training clips' pooled features
and scored on the validation clips, as every Fig. 2 ceiling is. ``--readouts flatten`` keeps the same
convolutions but reads them out as the project's video encoder does (each frame's 4x4 map flattened and mapped
to a d = 32 state, the states concatenated): whether that readout, rather than the convolutions, is what keeps
the project's encoder from the actions; ``--norm group`` (GroupNorm with 2 groups, the project's) and ``--widths``
(``8 8 32 32``: the project's quick widths) ask the same of its normalisation and widths.

Twins: the quick profile's (``pipeline``) and the one of fewer, twice larger objects (``larger``: 3-5 per
scene, ``budget_probe.LARGER``: ``twin_scale = 2``, ``twin_objects = (3, 5)``), each with the quick profile's
210 training videos and with more (``--videos``); one seed each (``--seed``). The clips are the pipeline's
(``vjvcr.datasets.ClipSet``), cached under DATA/clips and shared with ``budget_probe.py``. Prints and writes a Markdown table; asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from budget_probe import LARGER  # noqa: E402  (beside this script)
from report import publish  # noqa: E402
from vjvcr.config import QUICK  # noqa: E402
from vjvcr.datasets import ClipSet  # noqa: E402
from vjvcr.steps.cater import multilabel_map  # noqa: E402


class ActionCNN(nn.Module):
    """Clips [B, T, 32, 32, 3] (uint8) -> features -> logits of the 14 actions.

    ``readout="max"``: the maximum of the last map over space and time, [B, 128]. ``readout="flatten"``: the
    project's video encoder's readout instead (``vjvcr.video_models.VideoEncoder``): each frame's 4x4 map
    flattened and mapped linearly to d = 32, the frames' states concatenated, [B, T * 32].
    """

    def __init__(self, classes: int = 14, widths=(16, 32, 64, 128), readout: str = "max", frames: int = 8,
                 dim: int = 32, norm: str = "batch"):
        super().__init__()
        layers, c = [], 3
        for k, w in enumerate(widths):
            layers += [nn.Conv3d(c, w, 3, stride=(1, 1 if k == 0 else 2, 1 if k == 0 else 2), padding=1),
                       nn.BatchNorm3d(w) if norm == "batch" else nn.GroupNorm(2, w),  # "group": the project's
                       nn.ReLU(inplace=True)]
            c = w
        self.body, self.readout = nn.Sequential(*layers), readout
        self.proj = nn.Linear(c * 16, dim) if readout == "flatten" else None
        self.head = nn.Linear(frames * dim if readout == "flatten" else c, classes)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        f = self.body(clips.permute(0, 4, 1, 2, 3).float() / 255)  # [B, C, T, 4, 4] from [B, 3, T, 32, 32]
        if self.readout == "max":
            return f.amax(dim=(2, 3, 4))
        return self.proj(f.transpose(1, 2).flatten(2)).flatten(1)  # [B, T, C * 16] -> [B, T, d] -> [B, T * d]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(clips))


def pooled(net: ActionCNN, frames: np.ndarray, batch: int = 256) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        out = [net.features(torch.from_numpy(frames[i:i + batch])) for i in range(0, len(frames), batch)]
    net.train()
    return torch.cat(out).numpy()


def learnability(data: Path, twin: str, videos: int, steps: int, seed: int, readout: str = "max",
                 batch: int = 32, norm: str = "batch", widths=(16, 32, 64, 128)) -> dict:
    cfg = replace(QUICK.cater, num_train=videos, **(LARGER if twin == "larger" else {}))
    tr, te = (ClipSet("cater", split, cfg).load(data) for split in ("train", "val"))
    torch.manual_seed(seed)
    net = ActionCNN(classes=tr.clip_labels.shape[1], readout=readout, frames=tr.frames.shape[1], norm=norm,
                    widths=widths)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    frames, labels = torch.from_numpy(tr.frames), torch.from_numpy(tr.clip_labels).float()
    gen = torch.Generator().manual_seed(seed)
    t, losses = time.perf_counter(), []
    for _ in tqdm(range(steps), desc=f"{twin} twin, {videos} videos", leave=False):
        idx = torch.randint(0, len(frames), (batch,), generator=gen)
        clips = frames[idx]
        if torch.rand(1, generator=gen).item() < 0.5:
            clips = clips.flip(3)  # mirrored left-right: the actions stay the same
        loss = nn.functional.binary_cross_entropy_with_logits(net(clips), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - t
    res = multilabel_map(pooled(net, tr.frames), tr, pooled(net, te.frames), te)
    first, last = np.mean(losses[:50]), np.mean(losses[-50:])
    return dict(twin=twin, videos=videos, clips=len(tr), steps=steps, map=res["map"],
                readout=READOUTS[readout] + ("" if norm == "batch" else ", GroupNorm(2)")
                + ("" if tuple(widths) == (16, 32, 64, 128) else f", widths {'-'.join(map(str, widths))}"),
                chance=res["chance"],
                loss=f"{first:.2f} -> {last:.2f}", seconds=seconds)


TWINS = {"pipeline": "the quick profile's twin (5-10 objects, 2.5-5 pixels across)",
         "larger": "fewer, twice larger objects (3-5 per scene, 5-10 pixels across)"}


READOUTS = {"max": "max over space and time", "flatten": "the project's: each frame's 4x4 map flattened to d = 32"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--twins", nargs="+", choices=tuple(TWINS), default=tuple(TWINS))
    ap.add_argument("--videos", nargs="+", type=int, default=(QUICK.cater.num_train, 2000),
                    help="training videos (each twin is generated with this many plus the quick profile's 90 "
                         "validation videos, unless already on disk)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--readouts", nargs="+", choices=tuple(READOUTS), default=("max",))
    ap.add_argument("--norm", choices=("batch", "group"), default="batch",
                    help="batch norm, or GroupNorm with 2 groups as in the project's video encoder")
    ap.add_argument("--widths", type=int, nargs=4, default=(16, 32, 64, 128), help="the four blocks' channels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = [learnability(a.data, twin, videos, a.steps, a.seed, readout, norm=a.norm, widths=tuple(a.widths))
            for readout in a.readouts for twin in a.twins for videos in a.videos]
    lines = ["| twin | training videos (clips) | readout | steps | mAP (%) | chance (%) | training loss (first -> "
             "last 50 steps) | training seconds |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {TWINS[r['twin']]} | {r['videos']} ({r['clips']}) | {r['readout']} | {r['steps']} | "
              f"{r['map']:.1f} | {r['chance']:.1f} | {r['loss']} | {r['seconds']:.0f} |" for r in rows]
    title = (f"# CATER: what a 3D CNN trained on the actions reaches (seed {a.seed}, {torch.get_num_threads()} "
             f"threads, validation: the quick profile's {QUICK.cater.num_test} videos of each twin)")
    publish("\n".join([title, "", *lines]) + "\n", a.out)


if __name__ == "__main__":
    main()
