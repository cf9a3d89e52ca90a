"""Training many runs: here, in a pool of worker processes, or on a cluster with submitit.

``train_runs(ctx, runs)`` is what a step (notebook or ``python -m vjvcr step``) calls: every
dataset is prepared once, then the runs train in worker processes (on the CPU, one thread each:
on 2 cores two 1-thread runs get through 1.3-1.5x the steps of one 2-thread run); each run is
resumed or skipped when its folder already holds it. ``submit(ctx, runs)`` sends one job per run to
SLURM (a job array) or, where there is no SLURM, to submitit's local executor; a job that runs out
of its time comes back resumed (``vjvcr.train`` resumes from ``last.pt``).

Worker processes ignore Ctrl-C (they are started with it held, then ignore it; their parent answers it
once) and end themselves when their parent dies, so a killed notebook or runner leaves no training
process behind.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .context import Context, watch_parent
from .device import pick_device
from .runs import Run
from .train import train

TRAINING_SHARE = 0.7  # of a step's remaining time under a deadline; the rest is left for its analysis


def _worker_init(threads: int, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent answers Ctrl-C, once
    watch_parent(parent=parent)
    if threads:
        torch.set_num_threads(threads)


def train_one(run: Run, data_dir: Path, device: str | None, time_limit: float | None = None,
              progress: bool = False) -> dict:
    """Train (or resume, or skip) one run on its dataset; what the worker processes and cluster jobs call."""
    frames, labels = run.dataset.arrays(data_dir, run.label)
    res = train(run.folder, run.cfg, frames, labels=labels, device=device, progress=progress, time_limit=time_limit)
    return dict(name=run.name, folder=str(run.folder), step=res.step, planned=run.cfg.train.steps,
                seconds=res.seconds)


def run_time_limit(ctx: Context, runs_left: int, workers: int) -> float | None:
    """Seconds a run may train: ``ctx.time_limit``, cut so that the step's runs end before ``ctx.deadline``.

    Under a deadline the remaining time is shared by the runs still to train (``workers`` at a
    time), keeping 30% of it for the step's analysis; every run gets at least one second.
    """
    if ctx.deadline is None:
        return ctx.time_limit
    rounds = -(-runs_left // workers)
    share = max(1.0, TRAINING_SHARE * (ctx.deadline - time.time()) / max(1, rounds))
    return share if ctx.time_limit is None else min(ctx.time_limit, share)


def default_workers(ctx: Context, dev: torch.device, runs: int) -> int:
    if ctx.workers:
        return max(1, min(ctx.workers, runs))
    if dev.type == "cuda":  # one run fills a GPU, unless $VJVCR_GPU_WORKERS says the models are small
        return max(1, min(int(os.environ.get("VJVCR_GPU_WORKERS", "1")), runs))
    return max(1, min(os.cpu_count() or 1, runs))


def prepare(ctx: Context, runs: list[Run]) -> None:
    """Generate or decode every dataset the runs train on, once, before any worker reads it."""
    for ds in dict.fromkeys(r.dataset for r in runs):
        ds.load(ctx.data_dir)


def train_runs(ctx: Context, runs: list[Run], *, desc: str = "training") -> list[dict]:
    """Train (or resume, or skip when finished) ``runs``: one process per run at a time, ``ctx.workers`` at once."""
    if not runs:
        return []
    prepare(ctx, runs)
    dev = pick_device(ctx.device)
    workers = default_workers(ctx, dev, len(runs))
    if workers == 1:
        results = []
        for k, run in tqdm(list(enumerate(runs)), desc=desc):
            results.append(train_one(run, ctx.data_dir, str(dev), run_time_limit(ctx, len(runs) - k, 1), progress=True))
        return results
    limit = run_time_limit(ctx, len(runs), workers)
    return map_in_workers(ctx, train_one, [(run, ctx.data_dir, str(dev), limit) for run in runs], desc=desc)


def map_in_workers(ctx: Context, fn, calls: list[tuple], *, desc: str) -> list:
    """``[fn(*args) for args in calls]``, computed in ``ctx.workers`` worker processes (one per core on a CPU,
    each of one thread), in order. ``fn`` and its arguments must be picklable (a module-level function).
    One worker: computed here. Ctrl-C or a failing call ends every worker at once; finished calls' files stay.
    """
    dev = pick_device(ctx.device)
    workers = default_workers(ctx, dev, len(calls))
    if workers <= 1:
        return [fn(*args) for args in tqdm(calls, desc=desc)]
    threads = 0 if dev.type == "cuda" else max(1, (os.cpu_count() or 1) // workers)
    results = []
    with tqdm(total=len(calls), desc=desc) as bar:
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                   initargs=(threads, os.getpid()))
        try:
            # the workers are spawned by these submits; with SIGINT blocked they start with it blocked, so a
            # Ctrl-C while one still imports torch (before _worker_init) cannot kill it and break the pool; a
            # Ctrl-C pressed meanwhile is held, not lost, and raised here as soon as the submits are done
            with sigint_blocked():
                futures = [pool.submit(fn, *args) for args in calls]
            for f in futures:
                results.append(f.result())
                bar.update(1)
        except BaseException:  # Ctrl-C or a failed call: stop the others now, keep what they saved
            # end the workers and let the pool fail its pending futures itself (cancelling them here as well
            # races with its management thread: Python 3.11 then prints an InvalidStateError traceback)
            for p in list(pool._processes.values()):
                p.terminate()
            pool.shutdown(wait=False)
            raise
        pool.shutdown()
    return results


@contextmanager
def sigint_blocked():
    """Hold SIGINT (Ctrl-C) while the block runs, in this thread and in the processes and threads it starts."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# ----------------------------------------------------------------------------- a cluster (submitit)

class TrainJob:
    """One run as a submitit job; on preemption or timeout submitit requeues it and training resumes."""

    def __init__(self, data_dir: Path, device: str | None, threads: int, time_limit: float | None):
        self.data_dir, self.device, self.threads, self.time_limit = data_dir, device, threads, time_limit

    def __call__(self, run: Run) -> dict:
        if self.threads:
            torch.set_num_threads(self.threads)
        return train_one(run, self.data_dir, self.device, self.time_limit)

    def checkpoint(self, run: Run):  # submitit's hook before a timeout or preemption: run me again
        import submitit  # absent on a lent GPU machine, which never launches cluster jobs

        return submitit.helpers.DelayedSubmission(TrainJob(self.data_dir, self.device, self.threads,
                                                           self.time_limit), run)


def submit(ctx: Context, runs: list[Run], *, cluster: str | None = None, log_dir: Path | None = None,
           timeout_min: int = 60, parallel: int | None = None, slurm: dict | None = None,
           rounds: int = 20) -> list[dict]:
    """Train ``runs`` as one job each with submitit, wait for them, and resubmit those a time limit stopped.

    ``cluster``: "slurm", "local" or None (SLURM where ``sbatch`` exists, else the local executor).
    Locally at most ``parallel`` jobs run at once (default: one per core); on SLURM they form one job
    array of that parallelism. Each job trains until ``timeout_min`` minus a margin, saves, and is
    submitted again until its run is finished (at most ``rounds`` times).
    """
    import submitit  # absent on a lent GPU machine (its own Python), which never launches cluster jobs

    if not runs:
        return []
    prepare(ctx, runs)  # jobs only read the caches
    executor = submitit.AutoExecutor(folder=str(log_dir or ctx.out_dir / "submitit"), cluster=cluster)
    parallel = parallel or (os.cpu_count() or 1)
    executor.update_parameters(timeout_min=timeout_min, **({"slurm_array_parallelism": parallel, **(slurm or {})}
                                                          if executor.cluster == "slurm" else {}))
    threads = 0 if executor.cluster == "slurm" else max(1, (os.cpu_count() or 1) // parallel)
    job = TrainJob(ctx.data_dir, ctx.device, threads, max(30.0, 60 * timeout_min - 120))
    todo, done = list(runs), {}
    with tqdm(total=len(runs), desc=f"jobs ({executor.cluster})") as bar:
        for _ in range(rounds):
            for result in _run_jobs(executor, job, todo, parallel):
                if result["step"] >= result["planned"]:
                    done[result["folder"]] = result
                    bar.update(1)
            todo = [r for r in runs if str(r.folder) not in done]
            if not todo:
                break
    if todo:
        raise RuntimeError(f"{len(todo)} run(s) still unfinished after {rounds} rounds of jobs (e.g. {todo[0].folder}); "
                           f"rerun the same command to continue them")
    return [done[str(r.folder)] for r in runs]


def _run_jobs(executor, job: TrainJob, runs: list[Run], parallel: int) -> list[dict]:
    if executor.cluster == "slurm":  # one job array; SLURM keeps `parallel` of them running
        return [j.result() for j in executor.map_array(job, runs)]
    results, queue, running = [], list(runs), []
    while queue or running:  # the local executor starts every job at once: keep `parallel` in flight
        while queue and len(running) < parallel:
            running.append(executor.submit(job, queue.pop(0)))
        finished = [j for j in running if j.done()]
        for j in finished:
            results.append(j.result())
            running.remove(j)
        if not finished:
            time.sleep(0.5)
    return results
