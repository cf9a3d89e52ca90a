"""Can Fig. 5's encoder and decoder draw a digit at all at the pair's budget? A diagnostic, not a figure.

    python benchmarks/fig5_autoencoder.py --data DIR [--steps 3000] [--wide] [--out benchmarks/results/X.md]
        [--predictor mlp|residual [--target present|next] [--frames K] [--hidden H] [--warm-start N [--freeze]]]
        [--train-clips N]

Trains the project's own ``Encoder`` and ``Decoder`` (``vjvcr.models``, the quick profile's widths, or with
``--wide`` channels 16-32-64 and d = 128) as a plain autoencoder of the three input frames of the quick
MovingMNIST clips: ``Dec(Enc(x)) ~ x``, pixel MSE, the pipeline's optimiser and learning-rate schedule
(``vjvcr.train.optimizer`` and ``lr_at``), batch 32, one thread. No predictor: if this draws digits where the
Fig. 5 pair draws blobs, what the pair lacks is carrying the shape through the prediction; if it draws blobs
too, the encoder and decoder are the limit at this budget.

With ``--predictor``, the project's ``Predictor`` (the pair's MLP, or the residual one) sits between them:
``Dec(Pred(Enc(x)))`` is trained on ``--target present`` (the input frames themselves: the predictor only has
to pass the states through) or ``--target next`` (the first ``--frames`` target frames: a prediction over a
horizon short enough that the future is nearly certain). The first tells whether the predictor can carry the
shape at all, the second whether it can carry it forward. ``--train-clips N`` trains on N generated clips
instead of the quick profile's 6,000 (the same generator and test clips), to tell overfitting from capacity.
``--warm-start N`` first trains the encoder and decoder alone as the autoencoder above for N steps, then puts the
predictor between them and trains all three for ``--steps``: with ``--target next --frames 12`` this is Fig. 5's
generative model without VC (pixel MSE on the 12 target frames), its encoder and decoder starting from networks
that already draw the digit. Does the pair then keep drawing it while learning the move? ``--freeze`` keeps those
encoder and decoder fixed (their batch norm in evaluation mode) and trains the predictor alone: can the MLP learn
the move in a state space known to hold the digit?
Writes the PSNR on 1,000 test clips per frame beside the all-black floor and the last input frame repeated (per
frame with ``--target next``, over the clips whose digit has moved since the last input frame, as the pipeline's
per-step PSNR), and a figure of targets and outputs (``<out>.png``).
Asserts nothing.
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
from vjvcr.analysis import moved_since_last_input, psnr_per_clip, psnr_per_step  # noqa: E402
from vjvcr.config import QUICK  # noqa: E402
from vjvcr.context import setup  # noqa: E402
from vjvcr.models import PREDICTORS, Decoder, Encoder, Predictor, to_float_frames  # noqa: E402
from vjvcr.steps.data import prepare_data  # noqa: E402
from vjvcr.train import lr_at, optimizer  # noqa: E402

def targets(clips: torch.Tensor, target: str, frames: int) -> torch.Tensor:
    """What the networks learn to draw from the input frames: themselves ("present": the last ``frames`` of
    them) or the first ``frames`` target frames ("next")."""
    n_in = QUICK.data.num_input
    return clips[:, n_in - frames:n_in] if target == "present" else clips[:, n_in:n_in + frames]


def train_autoencoder(frames: np.ndarray, model_cfg, size: int, tc, seed: int = 0, predictor: bool = False,
                      target: str = "present", k: int = 3, init: torch.nn.ModuleList | None = None,
                      freeze: bool = False):
    """Enc and Dec (and with ``predictor`` the model's Predictor between them, ``k`` output states) trained on
    pixel MSE against ``targets(clips, target, k)`` for uint8 clips [N, T, H, W], with the pipeline's AdamW and
    learning-rate schedule at ``tc`` (a TrainConfig: steps, batch_size, lr, warm-up). ``init``: networks of an
    earlier call whose encoder and decoder weights to start from (the predictor starts fresh); ``freeze``: train
    the predictor alone, the encoder and decoder fixed with their batch norm in evaluation mode. Returns the networks
    as one function x -> frames, the training losses, and the networks [Enc, Pred or Identity, Dec]."""
    torch.manual_seed(seed)
    enc, dec = Encoder(model_cfg), Decoder(model_cfg, size=size)
    pred = Predictor(model_cfg, num_input=QUICK.data.num_input, num_target=k) if predictor else torch.nn.Identity()
    nets = torch.nn.ModuleList([enc, pred, dec])
    if init is not None:
        enc.load_state_dict(init[0].state_dict()), dec.load_state_dict(init[2].state_dict())
    if freeze:
        for net in (enc, dec):
            net.requires_grad_(False), net.eval()
    opt = optimizer(pred if freeze else nets, tc, torch.device("cpu"))
    clips = torch.from_numpy(frames)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for step in tqdm(range(tc.steps), desc="autoencoder", mininterval=10):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        c = to_float_frames(clips[torch.randint(len(clips), (tc.batch_size,), generator=gen)])
        loss = torch.mean((dec(pred(enc(c[:, :QUICK.data.num_input]))) - targets(c, target, k)) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    nets.eval()
    return (lambda x: dec(pred(enc(x)))), losses, nets


HEADER = ("| networks | path | draws | steps (batch) | training clips | PSNR (per frame) | all-black "
          "| last input frame repeated (per frame) | final training MSE | seconds (1 thread) |")


def results_text(row: str, command: str, old: str | None = None) -> tuple[str, int]:
    """The Markdown results file with ``row`` and its ``command`` last, and its number of rows. ``old`` (the
    file's text, with ``--append``): its rows and commands come first and the prose below its commands is kept;
    a file of another table format raises ValueError (its rows would not line up with this one's)."""
    table, commands, prose = [row], [command], []
    if old is not None:
        lines = old.splitlines()
        if HEADER not in lines:
            raise ValueError("it has another table header (an older format of this script)")
        table = [line for line in lines if line.startswith("| ") and line != HEADER] + table
        commands = [line[2:] for line in lines if line.startswith("- `")] + commands
        prose = lines[max((i for i, line in enumerate(lines) if line.startswith("- `")), default=len(lines)) + 1:]
    text = "\n".join([
        "# Fig. 5's encoder and decoder: can they draw the digit?",
        "",
        HEADER,
        "|---" * HEADER.count(" | ") + "|---|",
        *table,
        "",
        "On the quick MovingMNIST clips (1,000 test clips), one seed, a 2-core CPU; the rows' commands in order:",
        *(f"- {c}" for c in commands),
        *prose,
    ]).rstrip("\n") + "\n"
    return text, len(table)


@torch.no_grad()
def reconstruct(net, frames: np.ndarray) -> np.ndarray:
    out = [net(to_float_frames(torch.from_numpy(frames[i:i + 250, :QUICK.data.num_input]))).numpy()
           for i in range(0, len(frames), 250)]
    return np.concatenate(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--out", type=Path, default=None, help="Markdown file (its figure beside it, same stem)")
    ap.add_argument("--append", action="store_true",
                    help="add this run's row and command to --out's table (its figure: <out>_<n>.png, n its row)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--wide", action="store_true", help="channels 16-32-64, d = 128 instead of the quick widths")
    ap.add_argument("--predictor", choices=PREDICTORS, default=None,
                    help="put the model's predictor between encoder and decoder (default: none, an autoencoder)")
    ap.add_argument("--hidden", type=int, default=None, help="the predictor's hidden width (default: the profile's)")
    ap.add_argument("--target", choices=("present", "next"), default="present",
                    help="draw the input frames (present) or the first target frames (next; needs --predictor)")
    ap.add_argument("--frames", type=int, default=None,
                    help="how many frames to draw (default: the 3 input frames; with --target next, 1)")
    ap.add_argument("--warm-start", type=int, default=0, metavar="N",
                    help="first train the encoder and decoder as an autoencoder for N steps (needs --predictor)")
    ap.add_argument("--freeze", action="store_true",
                    help="with --warm-start: train the predictor alone, the autoencoder's encoder and decoder fixed")
    ap.add_argument("--train-clips", type=int, default=None,
                    help=f"training clips to generate (default: the quick profile's {QUICK.data.num_train:,})")
    a = ap.parse_args(argv)
    n_in = QUICK.data.num_input
    k = a.frames or (n_in if a.target == "present" else 1)
    if a.predictor is None and (a.target != "present" or k != n_in or a.hidden):
        ap.error("--target next, --frames and --hidden need --predictor (an autoencoder draws its own input frames)")
    if a.warm_start and a.predictor is None:
        ap.error("--warm-start needs --predictor (it trains the autoencoder first, then the predictor between)")
    if a.freeze and not a.warm_start:
        ap.error("--freeze needs --warm-start (it keeps the autoencoder's encoder and decoder fixed)")
    if a.warm_start < 0:
        ap.error(f"--warm-start must be 0 or more steps; got {a.warm_start}")
    if a.target == "present" and not 1 <= k <= n_in:
        ap.error(f"--target present draws at most the {n_in} input frames (got --frames {k})")
    torch.set_num_threads(1)
    model = replace(QUICK.model, channels=WIDE_CHANNELS, dim=WIDE_DIM) if a.wide else QUICK.model
    model = replace(model, predictor=a.predictor or model.predictor, pred_hidden=a.hidden or model.pred_hidden)
    if a.train_clips is not None and a.train_clips < a.batch:
        ap.error(f"--train-clips must be at least the batch ({a.batch}); got {a.train_clips}")
    data = replace(QUICK.data, num_train=a.train_clips or QUICK.data.num_train)
    ctx = setup(replace(QUICK, name="budget", data=data), a.data / "budget-out" / "fig5_autoencoder", a.data,
                seeds=(0,))
    sets = prepare_data(ctx, stochastic=False)
    train, test = sets["train"].frames, sets["test"].frames[:QUICK.analysis.num_clips]
    t = time.perf_counter()
    tc = replace(QUICK.train, steps=a.steps, batch_size=a.batch)
    init = None
    if a.warm_start:
        _, _, init = train_autoencoder(train, model, QUICK.data.size, replace(tc, steps=a.warm_start), k=n_in)
    net, losses, _ = train_autoencoder(train, model, QUICK.data.size, tc, predictor=a.predictor is not None,
                                       target=a.target, k=k, init=init, freeze=a.freeze)
    seconds = time.perf_counter() - t
    clips = test.astype(np.float32) / 255
    target = targets(torch.from_numpy(clips), a.target, k).numpy()  # [N, k, H, W]
    rec = reconstruct(net, test)[:, :, 0]  # [N, k, H, W] like target
    last = np.repeat(clips[:, n_in - 1:n_in], k, axis=1)
    def db(x):  # mean PSNR over clips, of all k frames
        return float(psnr_per_clip(x, target).mean())
    # per frame: with --target next, over the clips whose target frame differs from the last input frame (where
    # it does not, repeating that frame is exact and its capped PSNR would lift the floor's mean; see
    # vjvcr.analysis.moved_since_last_input), for every row alike
    keep = moved_since_last_input(test, n_in)[:, :k] if a.target == "next" else np.ones(target.shape[:2], bool)
    per_frame = ", ".join(f"{v:.1f}" for v in psnr_per_step(rec, target, keep))
    copy_last = ", ".join(f"{v:.1f}" for v in psnr_per_step(last, target, keep)) if a.target == "next" else "–"
    widths = f"channels {'-'.join(map(str, model.channels))}, d = {model.dim}, pool {model.pool}"
    path = "Dec(Enc(x))" if a.predictor is None else \
        f"Dec(Pred(Enc(x))), {a.predictor} predictor (hidden {model.pred_hidden})" + \
        (f", Enc and Dec first trained {a.warm_start} steps as an autoencoder" if a.warm_start else "") + \
        (" and then fixed" if a.freeze else "")
    drawn = (f"the {k} input frames" if k > 1 else "the last input frame") if a.target == "present" else \
        (f"the first {k} target frames" if k > 1 else "the first target frame")
    flags = "".join([" --wide" if a.wide else "", f" --predictor {a.predictor}" if a.predictor else "",
                     f" --hidden {a.hidden}" if a.hidden else "", f" --target {a.target}" if a.predictor else "",
                     f" --frames {a.frames}" if a.frames else "",
                     f" --warm-start {a.warm_start}" if a.warm_start else "", " --freeze" if a.freeze else "",
                     f" --train-clips {a.train_clips}" if a.train_clips else ""])
    row = f"| {widths} | {path} | {drawn} | {a.steps} ({a.batch}) | {len(train):,} | {db(rec):.1f} dB ({per_frame}) " \
          f"| {db(np.zeros_like(target)):.1f} dB | {copy_last} | {np.mean(losses[-50:]):.4f} | {seconds:.0f} |"
    command = f"`python benchmarks/fig5_autoencoder.py --steps {a.steps}{flags}`"
    try:
        text, rows = results_text(row, command, a.out.read_text() if a.append and a.out and a.out.exists() else None)
    except ValueError as e:
        sys.exit(f"{a.out}: {e}; write to a new --out")
    publish(text, a.out)
    fig, axes = plt.subplots(6, k, figsize=(max(k, 3), 6), squeeze=False)  # 3 inches: room for the title
    for c in range(3):
        for t_ in range(k):
            for r, (label, img) in enumerate((("target", target[c, t_]), ("drawn", rec[c, t_]))):
                ax = axes[2 * c + r, t_]
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if t_ == 0:
                    ax.set_ylabel(label, fontsize=6)
    fig.suptitle(f"{path}\n{widths}, {drawn}, {a.steps} steps: {db(rec):.1f} dB", fontsize=5)
    fig.tight_layout()
    if a.out:
        stem = a.out.stem + (f"_{rows}" if a.append else "")
        fig.savefig(a.out.with_name(stem + ".png"), dpi=120)


if __name__ == "__main__":
    main()
