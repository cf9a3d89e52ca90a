"""The command line of ``python -m vjvcr``: its subcommands, their options, and the context built from them.

    python -m vjvcr notebooks [--profile P] [--only NN]...     every notebook in order (./run_all.sh)
    python -m vjvcr step STEP... [--profile P] [--budget S]    steps without Jupyter (a GPU box, a job)
    torchrun --nproc_per_node N -m vjvcr ddp STEP              a step's runs, each on N processes (DDP)
    python -m vjvcr submit STEP [--cluster local|slurm]        a step's runs as cluster jobs, then its analysis

A bad option ends in one line on stderr that names the value and the fix, exit status 2, and
nothing written. This module imports no torch: the options are checked before anything heavy loads.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import PROFILES
from .context import ROOT, Context, check_folder, default_out_dir, folder, setup
from .errors import UsageError

NOTEBOOKS = ROOT / "notebooks"
VARIANT_NAMES = ("vjvcr", "vjvcr_dec", "gen_vc", "gen", "supervised")  # vjvcr.runconfig's, checked by a test
# the steps, in notebook order, and the extra ones (python -m vjvcr step NAME)
STEP_NAMES = ("data", "pretrain", "probing", "svd", "reconstructions", "latent", "cater")
EXTRA_STEPS = ("clevrer", "sweep", "study")
TRAINING_STEPS = ("pretrain", "clevrer", "reconstructions", "latent", "cater", "study", "sweep")  # plans.STEP_RUNS


class OneLineParser(argparse.ArgumentParser):
    """argparse, with errors as one line (no usage block) and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def fail(message: str, prog: str = "vjvcr"):
    """Print ``message`` as the one error line and exit with status 2."""
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.exit(2)


# ----------------------------------------------------------------------------- option types

def seeds(text: str) -> tuple[int, ...]:
    """argparse type: distinct comma-separated non-negative integers, e.g. '0,1'."""
    out = []
    for part in text.split(","):
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"seed {part.strip()!r} is not an integer; give comma-separated seeds such as 0,1") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"seed {value} is negative; seeds are integers >= 0, e.g. 0,1")
        if value in out:
            raise argparse.ArgumentTypeError(f"seed {value} is given twice; give each seed once, e.g. 0,1")
        out.append(value)
    return tuple(out)


def variants(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated Table-1 variants (or the supervised ceiling), e.g. 'vjvcr,gen'."""
    names = tuple(v.strip() for v in text.split(","))
    bad = [v for v in names if v not in VARIANT_NAMES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown variant {bad[0]!r}; valid variants: {', '.join(VARIANT_NAMES)}")
    return tuple(dict.fromkeys(names))


def positive_seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"time limit {text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"time limit {text} must be a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def device(text: str) -> str:
    """argparse type: 'cpu', 'cuda' or 'cuda:N', available on this machine."""
    if text != "cpu" and not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu or cuda")
    if text.startswith("cuda"):
        import torch  # only when a GPU is asked for

        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"device {text!r} was asked for but no CUDA GPU is available; use cpu")
    return text


def notebook(text: str) -> str:
    """argparse type: a notebook's name or number prefix that matches exactly one notebook."""
    stem = text.strip().removesuffix(".ipynb")
    books = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    hits = [b for b in books if stem and (b == stem or b.startswith(stem))]
    if len(hits) != 1:
        raise argparse.ArgumentTypeError(f"{'no notebook matches' if not hits else 'several notebooks match'} "
                                         f"{text!r}; notebooks: {', '.join(books)}")
    return hits[0]


# ----------------------------------------------------------------------------- the parser

def _folders(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="quick", choices=list(PROFILES),
                   help="smoke (tests), quick (default: a 2-core CPU), paper (one GPU), gpu (paper shapes in a "
                        "short GPU window), study (the claim-1 study on the quick settings)")
    p.add_argument("--out", default=None, help="output folder (default: figures/ for quick, figures/<profile>/)")
    p.add_argument("--data", default=None, help="data and trained-run cache (default: data/ of this checkout)")


def _training(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, type=device, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--variants", default=None, type=variants, help="comma-separated subset, e.g. vjvcr,gen")
    p.add_argument("--seeds", default=None, type=seeds, help="comma-separated seeds, e.g. 0,1 (default: the profile's)")
    p.add_argument("--time-limit", type=positive_seconds, default=None,
                   help="seconds per training run; stops early with a checkpoint (rerun to continue)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="training processes at once (default: one per CPU core, one on a GPU)")
    p.add_argument("--skip-video", action="store_true",
                   help="leave out CLEVRER and CATER (for a machine without PyAV); the manifest says so")


def parser() -> OneLineParser:
    top = OneLineParser(prog="python -m vjvcr", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, parser_class=OneLineParser, metavar="COMMAND")
    nb = sub.add_parser("notebooks", help="run the notebooks in order with papermill (what ./run_all.sh does)",
                        description="Run notebooks/NN_*.ipynb in order with papermill; figures, tables, executed "
                                    "notebooks (OUT/notebooks/) and manifest.json go to OUT. Stops at the first "
                                    "failing notebook and names its cell. 07_claim1_study runs only when named.")
    _folders(nb)
    nb.add_argument("--only", action="append", default=None, type=notebook, metavar="NB",
                    help="run only this notebook (name or number, e.g. 02); repeatable")
    st = sub.add_parser("step", help="run notebook steps as plain commands (no Jupyter)",
                        description="Run steps without Jupyter: the notebooks' functions, the same files.")
    st.add_argument("steps", nargs="+", choices=[*STEP_NAMES, *EXTRA_STEPS, "all"], metavar="STEP",
                    help=f"{', '.join(STEP_NAMES)} (the notebooks 00-06), all (those in order), clevrer, "
                         "sweep, study (07)")
    _folders(st)
    _training(st)
    st.add_argument("--budget", type=positive_seconds, default=None,
                    help="seconds for the whole command: each step gets a share and its runs stop early, resumably")
    dd = sub.add_parser("ddp", help="train a step's runs on several processes (launch with torchrun)",
                        description="torchrun --nproc_per_node N -m vjvcr ddp STEP: each run of the step is "
                                    "trained in turn by all processes (DistributedDataParallel, global batch "
                                    "statistics); then run the analysis steps with python -m vjvcr step.")
    dd.add_argument("step", choices=TRAINING_STEPS)
    _folders(dd)
    _training(dd)
    dd.add_argument("--log-every", type=positive_int, default=10, help="steps between lines of metrics.jsonl")
    sb = sub.add_parser("submit", help="train a step's runs as cluster jobs (submitit), then run the step",
                        description="One job per planned run: a SLURM job array where sbatch exists, else "
                                    "submitit's local executor; stopped runs are resubmitted and resume. Then the "
                                    "step itself runs here (its analysis, on the trained runs).")
    sb.add_argument("step", choices=TRAINING_STEPS)
    _folders(sb)
    _training(sb)
    sb.add_argument("--cluster", choices=("auto", "local", "slurm"), default="auto")
    sb.add_argument("--timeout-min", type=positive_int, default=60, help="minutes per job (default 60)")
    sb.add_argument("--partition", default=None, help="SLURM partition")
    sb.add_argument("--gpus", type=int, default=0, help="GPUs per SLURM job (default 0)")
    return top


def context(args: argparse.Namespace, **overrides) -> Context:
    """The one Context of a command, from its arguments (folders relative to the caller's directory).

    ``overrides`` are fields the command knows better than its arguments (the device torchrun assigned).
    """
    out, data = checked_folders(args)
    options = {k: getattr(args, k) for k in ("device", "variants", "seeds", "time_limit", "skip_video", "workers")
               if getattr(args, k, None) is not None}
    return setup(args.profile, out, data, **{**options, **overrides})


def checked_folders(args: argparse.Namespace) -> tuple[Path, Path]:
    """(output, data) folders of the arguments, checked but not created."""
    out = folder(args.out, "output") if args.out is not None else default_out_dir(args.profile)
    data = folder(args.data, "data") if args.data is not None else ROOT / "data"
    return check_folder(out, "output folder"), check_folder(data, "data folder")


__all__ = ["UsageError", "OneLineParser", "fail", "parser", "context", "checked_folders"]
