"""Can Fig. 5's encoder and decoder draw a digit at all at the pair's budget? A diagnostic, not a figure.

    python benchmarks/fig5_autoencoder.py --data DIR [--steps 3000] [--wide] [--out benchmarks/results/X.md]

Trains the project's own ``Encoder`` and ``Decoder`` (``vjvcr.models``, the quick profile's widths, or with
``--wide`` channels 16-32-64 and d = 128) as a plain autoencoder of the three input frames of the quick
MovingMNIST clips: ``Dec(Enc(x)) ~ x``, pixel MSE, the pipeline's optimiser and learning-rate schedule
(``vjvcr.train.optimizer`` and ``lr_at``), batch 32, one thread. No predictor: if this draws digits where the
Fig. 5 pair draws blobs, what the pair lacks is carrying the shape through the prediction; if it draws blobs
too, the encoder and decoder are the limit at this budget. Writes the PSNR on 1,000 test clips beside the
all-black floor, and a figure of inputs and reconstructions (``<out>.png``). Asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from budget_probe import WIDE_CHANNELS, WIDE_DIM  # noqa: E402  (beside this script)
from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr.analysis import psnr_per_clip  # noqa: E402
from vjvcr.config import QUICK  # noqa: E402
from vjvcr.context import setup  # noqa: E402
from vjvcr.models import Decoder, Encoder, to_float_frames  # noqa: E402
from vjvcr.steps.data import prepare_data  # noqa: E402
from vjvcr.train import lr_at, optimizer  # noqa: E402

def train_autoencoder(frames: np.ndarray, model_cfg, size: int, tc, seed: int = 0):
    """Enc and Dec trained on Dec(Enc(x)) ~ x for the first three frames of uint8 clips [N, T, H, W], with the
    pipeline's AdamW and learning-rate schedule at ``tc`` (a TrainConfig: steps, batch_size, lr, warm-up)."""
    torch.manual_seed(seed)
    enc, dec = Encoder(model_cfg), Decoder(model_cfg, size=size)
    opt = optimizer(torch.nn.ModuleList([enc, dec]), tc, torch.device("cpu"))
    x_all = torch.from_numpy(frames[:, :QUICK.data.num_input])
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for step in tqdm(range(tc.steps), desc="autoencoder", mininterval=10):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        x = to_float_frames(x_all[torch.randint(len(x_all), (tc.batch_size,), generator=gen)])
        loss = torch.mean((dec(enc(x)) - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return enc.eval(), dec.eval(), losses


@torch.no_grad()
def reconstruct(enc, dec, frames: np.ndarray) -> np.ndarray:
    out = [dec(enc(to_float_frames(torch.from_numpy(frames[i:i + 250, :QUICK.data.num_input])))).numpy()
           for i in range(0, len(frames), 250)]
    return np.concatenate(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--out", type=Path, default=None, help="Markdown file (its figure beside it, same stem)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--wide", action="store_true", help="channels 16-32-64, d = 128 instead of the quick widths")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = replace(QUICK.model, channels=WIDE_CHANNELS, dim=WIDE_DIM) if a.wide else QUICK.model
    ctx = setup(replace(QUICK, name="budget"), a.data / "budget-out" / "fig5_autoencoder", a.data, seeds=(0,))
    sets = prepare_data(ctx, stochastic=False)
    train, test = sets["train"].frames, sets["test"].frames[:QUICK.analysis.num_clips]
    t = time.perf_counter()
    tc = replace(QUICK.train, steps=a.steps, batch_size=a.batch)
    enc, dec, losses = train_autoencoder(train, model, QUICK.data.size, tc)
    seconds = time.perf_counter() - t
    target = test[:, :QUICK.data.num_input].astype(np.float32) / 255
    rec = reconstruct(enc, dec, test)[:, :, 0]  # [N, 3, H, W] like target
    psnr = float(psnr_per_clip(rec, target).mean())
    black = float(psnr_per_clip(np.zeros_like(target), target).mean())
    widths = f"channels {'-'.join(map(str, model.channels))}, d = {model.dim}, pool {model.pool}"
    text = "\n".join([
        "# Fig. 5's encoder and decoder as a plain autoencoder of the input frames",
        "",
        "| networks | steps (batch) | PSNR of the 3 input frames | all-black | final training MSE | seconds (1 thread) |",
        "|---|---|---|---|---|---|",
        f"| {widths} | {a.steps} ({a.batch}) | {psnr:.1f} dB | {black:.1f} dB | {np.mean(losses[-50:]):.4f} "
        f"| {seconds:.0f} |",
        "",
        f"`python benchmarks/fig5_autoencoder.py --steps {a.steps}{' --wide' if a.wide else ''}` on the quick "
        "MovingMNIST clips (1,000 test clips).",
    ]) + "\n"
    publish(text, a.out)
    fig, axes = plt.subplots(6, 3, figsize=(3, 6))
    for c in range(3):
        for t_ in range(3):
            for r, (label, img) in enumerate((("input", target[c, t_]), ("autoencoder", rec[c, t_]))):
                ax = axes[2 * c + r, t_]
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if t_ == 0:
                    ax.set_ylabel(label, fontsize=6)
    fig.suptitle(f"autoencoder, {widths}, {a.steps} steps: {psnr:.1f} dB", fontsize=6)
    fig.tight_layout()
    if a.out:
        fig.savefig(a.out.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
