"""Every notebook's step as a command, for machines without Jupyter (a GPU box, a cluster job).

    python -m vjvcr.experiments data     --profile quick   # 00_data
    python -m vjvcr.experiments pretrain --profile paper   # 01_pretrain
    python -m vjvcr.experiments all      --profile paper   # every step in order
    python -m vjvcr.experiments clevrer  --profile quick   # CLEVRER only (pretrain + speed probe)

The notebooks call the same functions (``vjvcr.steps``), so both write the same files.
"""
from __future__ import annotations

import sys

from . import cli
from .config import PROFILES
from .steps import cater, clevrer, data, latent, pretrain, probing, reconstructions, svd, sweep
from .steps.common import setup

STEPS = {"data": data.run_data, "pretrain": pretrain.run_pretrain, "probing": probing.run_probing,
         "svd": svd.run_svd, "reconstructions": reconstructions.run_reconstructions_and_tables,
         "latent": latent.run_latent, "cater": cater.run_cater}
EXTRA_STEPS = {"sweep": sweep.run_sweep, "clevrer": clevrer.run_clevrer}


def parser() -> cli.OneLineParser:
    p = cli.OneLineParser(prog="python -m vjvcr.experiments", description=__doc__,
                          formatter_class=cli.argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=[*STEPS, *EXTRA_STEPS, "all"],
                   help="a notebook's step, 'all' of them in order, 'clevrer' (its pretraining and probe "
                        "only) or 'sweep' (the VC-weight sweep)")
    p.add_argument("--profile", default="quick", choices=list(PROFILES))
    p.add_argument("--out", default=None, help="output folder (default: figures/ or figures/<profile>)")
    p.add_argument("--data", default=None, help="data and run cache (default: data/)")
    p.add_argument("--device", default=None, type=cli.device, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--variants", default=None, type=cli.variants, help="comma-separated subset, e.g. vjvcr,gen")
    p.add_argument("--seeds", default=None, type=cli.seeds, help="comma-separated seeds, e.g. 0,1 "
                                                                  "(default: the profile's)")
    p.add_argument("--time-limit", type=cli.time_limit, default=None,
                   help="seconds per training run; stops early, resumable (rerun to continue)")
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    try:
        ctx = setup(a.profile, a.out, a.data)
    except cli.UsageError as err:
        cli.fail(str(err), "python -m vjvcr.experiments")
    ctx.device, ctx.time_limit, ctx.variants, ctx.seeds = a.device, a.time_limit, a.variants, a.seeds
    for name in (STEPS if a.step == "all" else [a.step]):
        print(f"[vjvcr] step {name} (profile {ctx.profile.name})", flush=True)
        {**STEPS, **EXTRA_STEPS}[name](ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
