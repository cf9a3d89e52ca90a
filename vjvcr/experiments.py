"""The experiments behind each notebook, runnable without Jupyter.

    python -m vjvcr.experiments data     --profile quick   # 00_data
    python -m vjvcr.experiments pretrain --profile paper   # 01_pretrain
    python -m vjvcr.experiments all      --profile paper   # every step in order

Each notebook calls the same functions, so a GPU machine without papermill produces
the same files as ``./run_all.sh``.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import PROFILES, Profile, get_profile

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    profile: Profile
    out_dir: Path
    data_dir: Path

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs" / self.profile.name

    def save(self, fig, name: str) -> Path:
        """Save a figure as PNG (and PDF for paper figures) into the output folder."""
        path = self.out_dir / name
        fig.savefig(path, dpi=130, bbox_inches="tight")
        if name.startswith("fig") and name[3:4].isdigit():
            fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight")
        return path


def setup(profile: str | Profile = "quick", out_dir: str | Path | None = None,
          data_dir: str | Path | None = None) -> Context:
    profile = get_profile(profile)
    out = Path(out_dir) if out_dir else ROOT / "figures" / ("" if profile.name == "quick" else profile.name)
    data = Path(data_dir) if data_dir else ROOT / "data"
    out.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    return Context(profile, out.resolve(), data.resolve())


# ----------------------------------------------------------------------------- 00_data

def prepare_data(ctx: Context, *, stochastic: bool = True) -> dict:
    """Generate (or load from the cache) the profile's MovingMNIST datasets."""
    from .data import cached_moving_mnist

    d = ctx.profile.data
    common = dict(num_frames=d.num_frames, size=d.size, digit_size=d.digit_size,
                  num_input=d.num_input, speed_range=d.speed_range, seed=0)
    sets = {
        "train": cached_moving_mnist(ctx.data_dir, d.num_train, num_digits=d.num_digits,
                                     split="train", **common),
        "test": cached_moving_mnist(ctx.data_dir, d.num_test, num_digits=d.num_digits,
                                    split="test", **common),
    }
    if stochastic:
        sets["stoch_train"] = cached_moving_mnist(ctx.data_dir, d.num_train_stochastic, num_digits=1,
                                                  stochastic=True, split="train", **common)
        sets["stoch_test"] = cached_moving_mnist(ctx.data_dir, d.num_test_stochastic, num_digits=1,
                                                 stochastic=True, split="test", **common)
    return sets


def write_data_summary(ctx: Context, sets: dict) -> dict:
    first = next(iter(sets.values()))
    summary = dict(digit_source=first.source,
                   datasets={k: dict(clips=len(v), frames=list(v.frames.shape[1:]),
                                     speed_min=float(v.speeds.min()), speed_max=float(v.speeds.max()),
                                     **{kk: vv for kk, vv in v.meta.items() if kk in ("seed", "split", "stochastic")})
                             for k, v in sets.items()})
    (ctx.out_dir / "data_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_data(ctx: Context) -> dict:
    from . import plots

    sets = prepare_data(ctx)
    write_data_summary(ctx, sets)
    ctx.save(plots.sample_clips(sets["train"], num_input=ctx.profile.data.num_input,
                                title="MovingMNIST (deterministic, train)"), "fig_data_samples.png")
    if "stoch_train" in sets:
        ctx.save(plots.sample_clips(sets["stoch_train"], num_input=ctx.profile.data.num_input,
                                    title="stochastic MovingMNIST (train)"), "fig_data_samples_stochastic.png")
    ctx.save(plots.label_distributions(sets), "fig_data_labels.png")
    return sets


STEPS = {"data": run_data}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vjvcr.experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=[*STEPS, "all"])
    p.add_argument("--profile", default="quick", choices=list(PROFILES))
    p.add_argument("--out", default=None, help="output folder (default: figures/ or figures/<profile>)")
    p.add_argument("--data", default=None, help="data and run cache (default: data/)")
    a = p.parse_args(argv)
    ctx = setup(a.profile, a.out, a.data)
    for name in (STEPS if a.step == "all" else [a.step]):
        print(f"[vjvcr] step {name} (profile {ctx.profile.name})", flush=True)
        STEPS[name](ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
