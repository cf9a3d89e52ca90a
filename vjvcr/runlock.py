"""One training process per run folder: an exclusive lock on ``run_dir/train.lock``.

The lock is an OS file lock (``fcntl.flock``), so it ends with the process that holds it:
a lock left by a killed process is free again, and the next run takes it over.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path


class RunLockedError(RuntimeError):
    """Another live process is training into the same run folder."""


@contextlib.contextmanager
def run_lock(run_dir: str | Path):
    """Hold the run folder's lock while the block runs; refuse at once if another process holds it."""
    path = Path(run_dir) / "train.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise RunLockedError(
                f"{run_dir} is being trained right now by {holder}. Wait for it to finish (a rerun then "
                f"resumes or skips it), or stop that process; a lock left by a killed process is "
                f"taken over automatically.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
