"""``python -m vjvcr``: the one front door (``python -m vjvcr --help``; the subcommands are in ``vjvcr.cli``).

Every subcommand builds its context once from its arguments, holds the output and data folders
(a second command on the same folders stops at once, naming the holder) and ends in one line on a
known failure: a bad option (exit 2), folders in use, a full disk, Ctrl-C (exit 130).
"""
from __future__ import annotations

import contextlib
import errno
import signal
import sys
import time
from dataclasses import replace

from . import cli
from .context import Context, shown_command
from .errors import ONE_LINE, UsageError
from .fileio import file_lock

# under --budget, each step's share of the time still left (shares of the steps still to run, renormalised)
BUDGET_SHARES = {"data": 0.06, "pretrain": 0.40, "probing": 0.07, "svd": 0.03, "reconstructions": 0.08,
                 "latent": 0.22, "cater": 0.14, "clevrer": 0.3, "sweep": 1.0, "study": 1.0}


def steps() -> dict:
    """Step name -> the function its notebook calls (imported here: the whole scientific stack)."""
    # the scientific stack, imported only by the subcommands that run steps (--help stays instant)
    from .steps import cater, clevrer, data, latent, pretrain, probing, reconstructions, study, svd, sweep

    return {"data": data.run_data, "pretrain": pretrain.run_pretrain, "probing": probing.run_probing,
            "svd": svd.run_svd, "reconstructions": reconstructions.run_reconstructions_and_tables,
            "latent": latent.run_latent, "cater": cater.run_cater, "clevrer": clevrer.run_clevrer,
            "sweep": sweep.run_sweep, "study": study.run_study}


@contextlib.contextmanager
def holding(ctx: Context):
    """The output and data folders' locks, for the whole command (one lock when they are the same folder)."""
    hint = "Wait for it to finish or stop it; a lock left by a killed process is taken over automatically."
    folders = {ctx.out_dir: "output folder"}
    folders.setdefault(ctx.data_dir, "data folder")
    with contextlib.ExitStack() as stack:
        for path, what in folders.items():
            stack.enter_context(file_lock(path / ".vjvcr.lock", f"the {what} {path}", hint=hint))
        yield


def run_notebooks(args) -> int:
    from .runner import run  # papermill: only this subcommand needs it

    ctx = cli.context(args)
    with holding(ctx):
        return run(ctx, args.only, command=shown_command(sys.argv[1:]))


def run_steps(args) -> int:
    from .manifest import Manifest  # torch, as above

    ctx = cli.context(args)
    names = [n for n in (list(cli.STEP_NAMES) if args.steps == ["all"] else args.steps)
             if not (ctx.skip_video and n in ("cater", "clevrer"))]
    functions = steps()
    with holding(ctx):
        path = ctx.out_dir / "manifest.json"
        if path.exists() and '"notebooks"' in path.read_text():  # ./run_all.sh's record stays
            path = path.with_name("manifest_steps.json")
        record = Manifest(ctx, kind="steps", command=shown_command(sys.argv[1:]), path=path,
                          budget_s=args.budget, skipped=["CLEVRER", "CATER"] if ctx.skip_video else [])
        for k, name in enumerate(names):
            step_ctx = ctx
            if args.budget is not None:
                left = args.budget - (time.perf_counter() - record.t0)
                share = BUDGET_SHARES[name] / sum(BUDGET_SHARES[n] for n in names[k:])
                step_ctx = replace(ctx, deadline=time.time() + max(0.0, left) * share)
            print(f"[vjvcr] step {name} (profile {ctx.profile.name})", flush=True)
            with record.section(name):
                functions[name](step_ctx)
        record.write()
    print(f"[vjvcr] done in {time.perf_counter() - record.t0:.0f} s; manifest in {record.path}", flush=True)
    return 0


def run_ddp(args) -> int:
    from . import ddp  # torch.distributed: only this subcommand needs it

    ctx = cli.context(args, device=ddp.start(args.device))
    if ddp.rank_world()[0] != 0:  # rank 0 holds the folders for all processes
        return ddp.main(ctx, args.step, args.log_every)
    with holding(ctx):
        return ddp.main(ctx, args.step, args.log_every)


def run_submit(args) -> int:
    from . import launch, plans  # torch, as above

    ctx = cli.context(args)
    slurm = {k: v for k, v in (("slurm_partition", args.partition), ("gpus_per_node", args.gpus or None)) if v}
    with holding(ctx):
        runs = plans.runs_for(ctx, args.step)
        results = launch.submit(ctx, runs, cluster=None if args.cluster == "auto" else args.cluster,
                                timeout_min=args.timeout_min, parallel=ctx.workers, slurm=slurm)
        print(f"[vjvcr submit] {len(results)} run(s) trained; now the step itself", flush=True)
        steps()[args.step](ctx)
    return 0


COMMANDS = {"notebooks": run_notebooks, "step": run_steps, "ddp": run_ddp, "submit": run_submit}


class Stopped(KeyboardInterrupt):
    """SIGTERM (e.g. from ``timeout``), answered like Ctrl-C."""


def _stop(signum, frame):
    raise Stopped()


def main(argv=None) -> int:
    args = cli.parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    try:
        return COMMANDS[args.command](args)
    except UsageError as err:
        cli.fail(str(err))
    except ONE_LINE as err:
        print(f"vjvcr: {err}", file=sys.stderr, flush=True)
        return 1
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        print(f"vjvcr: no space left on the device ({err.filename or 'a file being written'}); free some space "
              f"and rerun (finished runs and checkpoints are kept)", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nvjvcr: interrupted; finished runs and checkpoints are kept: rerun the same command to resume",
              file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
