"""Every notebook's step as a command, for machines without Jupyter (a GPU box, a cluster job).

    python -m vjvcr.experiments data     --profile quick   # 00_data
    python -m vjvcr.experiments pretrain --profile paper   # 01_pretrain
    python -m vjvcr.experiments all      --profile paper   # every step in order
    python -m vjvcr.experiments clevrer  --profile quick   # CLEVRER only (pretrain + speed probe)

The notebooks call the same functions (``vjvcr.steps``), so both write the same files.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time

from . import cli
from .config import PROFILES
from .steps import cater, clevrer, data, latent, pretrain, probing, reconstructions, study, svd, sweep
from .steps.common import setup

# under --budget, each step's share of the time still left (shares of the steps still to run, renormalised)
BUDGET_SHARES = {"data": 0.06, "pretrain": 0.40, "probing": 0.07, "svd": 0.03, "reconstructions": 0.08,
                 "latent": 0.22, "cater": 0.14, "clevrer": 0.3, "sweep": 1.0, "study": 1.0}
STEPS = {"data": data.run_data, "pretrain": pretrain.run_pretrain, "probing": probing.run_probing,
         "svd": svd.run_svd, "reconstructions": reconstructions.run_reconstructions_and_tables,
         "latent": latent.run_latent, "cater": cater.run_cater}
EXTRA_STEPS = {"sweep": sweep.run_sweep, "clevrer": clevrer.run_clevrer, "study": study.run_study}


class StepRecord:
    """manifest.json of a command-line run: the profile, the machine, and each step's time and peak GPU memory.

    Written after every step, so a run stopped half-way still says what it did; the training runs'
    reached steps are listed too (a budget may have stopped some early).
    """

    def __init__(self, ctx, argv, budget):
        from .runner import environment_record

        self.ctx, self.t0 = ctx, time.perf_counter()
        self.data = dict(command="python -m vjvcr.experiments " + " ".join(map(str, argv)), budget_s=budget,
                         skipped=(["CLEVRER (Table 1's column)", "CATER (Fig. 2)"] if ctx.skip_video else []),
                         profile=ctx.profile.name, profile_settings=ctx.profile.to_dict(), seeds=list(ctx.run_seeds),
                         **environment_record(), steps={})
        try:
            import torch

            if torch.cuda.is_available():
                self.data.update(torch=torch.__version__, cuda=torch.version.cuda,
                                 gpu=torch.cuda.get_device_name(0),
                                 gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
        except Exception:  # a broken CUDA install must not stop the record
            pass

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @contextlib.contextmanager
    def step(self, name: str):
        import torch

        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        entry = self.data["steps"].setdefault(name, {})
        entry["status"] = "running"
        try:
            yield
            entry["status"] = "ok"
        except BaseException as err:
            entry.update(status="failed", error=f"{type(err).__name__}: {err}"[:500])
            raise
        finally:
            entry["wall_s"] = round(time.perf_counter() - t, 1)
            if cuda:
                entry["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            self.write()

    def path(self):
        """manifest.json, unless that is ./run_all.sh's record of the notebooks: then manifest_experiments.json."""
        path = self.ctx.out_dir / "manifest.json"
        if path.exists() and "notebooks" in json.loads(path.read_text()):
            return path.with_name("manifest_experiments.json")
        return path

    def write(self):
        from .checkpoints import read_metrics

        runs = {}
        for run_dir in sorted(p.parent for p in self.ctx.runs_dir.rglob("config.json")):  # study/ runs too
            last = read_metrics(run_dir)[-1:]
            if last:
                planned = json.loads((run_dir / "config.json").read_text())["config"]["train"]["steps"]
                runs[run_dir.name] = dict(step=last[0]["step"], planned_steps=planned, train_s=last[0]["seconds"])
        self.data.update(total_wall_s=round(self.elapsed(), 1), runs=runs)
        path = self.path()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        tmp.replace(path)


def parser() -> cli.OneLineParser:
    p = cli.OneLineParser(prog="python -m vjvcr.experiments", description=__doc__,
                          formatter_class=cli.argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=[*STEPS, *EXTRA_STEPS, "all"],
                   help="a notebook's step, 'all' of them in order (00-06), 'clevrer' (its pretraining and "
                        "probe only), 'sweep' (the VC-weight sweep) or 'study' (07, the claim-1 study)")
    p.add_argument("--profile", default="quick", choices=list(PROFILES))
    p.add_argument("--out", default=None, help="output folder (default: figures/ or figures/<profile>)")
    p.add_argument("--data", default=None, help="data and run cache (default: data/)")
    p.add_argument("--device", default=None, type=cli.device, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--variants", default=None, type=cli.variants, help="comma-separated subset, e.g. vjvcr,gen")
    p.add_argument("--seeds", default=None, type=cli.seeds, help="comma-separated seeds, e.g. 0,1 "
                                                                  "(default: the profile's)")
    p.add_argument("--time-limit", type=cli.time_limit, default=None,
                   help="seconds per training run; stops early, resumable (rerun to continue)")
    p.add_argument("--skip-video", action="store_true",
                   help="leave out CLEVRER and CATER (for a machine without PyAV); the manifest says so")
    p.add_argument("--budget", type=cli.time_limit, default=None,
                   help="seconds for the whole command: each step gets a share, and its training runs stop "
                        "early (resumably) so that the step ends in it")
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    try:
        ctx = setup(a.profile, a.out, a.data)
    except cli.UsageError as err:
        cli.fail(str(err), "python -m vjvcr.experiments")
    ctx.device, ctx.time_limit, ctx.variants, ctx.seeds = a.device, a.time_limit, a.variants, a.seeds
    ctx.skip_video = a.skip_video
    names = [n for n in (list(STEPS) if a.step == "all" else [a.step])
             if not (a.skip_video and n in ("cater", "clevrer"))]
    record = StepRecord(ctx, argv if argv is not None else sys.argv[1:], a.budget)
    for k, name in enumerate(names):
        if a.budget is not None:
            left = a.budget - record.elapsed()
            ctx.deadline = time.time() + left * BUDGET_SHARES[name] / sum(BUDGET_SHARES[n] for n in names[k:])
        print(f"[vjvcr] step {name} (profile {ctx.profile.name})", flush=True)
        with record.step(name):
            {**STEPS, **EXTRA_STEPS}[name](ctx)
    record.write()
    print(f"[vjvcr] done in {record.elapsed():.0f} s; manifest in {record.path()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
