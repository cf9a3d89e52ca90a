"""Writing files so that a kill, a full disk or a second process cannot leave them half-written or shared.

* ``atomic_path``: write to a temporary name unique to this process and call, then rename into
  place; a kill or a full disk leaves the old file or the new one, never part of one, and two
  processes never write the same temporary file.
* ``file_lock``: an exclusive OS lock (``fcntl.flock``) on a lock file. It ends with the process
  that holds it, so a lock left by a killed process is free again. Non-blocking locks refuse at once
  with an error naming the holder; blocking ones wait (two processes generating the same cache).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
import uuid
from pathlib import Path

from .errors import DamagedFileError, DiskFullError, LockedError


RunLockedError = LockedError  # the name the run folder's lock had


def temp_name(path: Path) -> Path:
    """A temporary name beside ``path``, unique to this process and call (hidden; ``.tmp`` then the suffix)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path to write ``path``'s new content to; on success it is renamed onto ``path``.

    The temporary file is removed on any failure; a full disk becomes ``DiskFullError`` naming the folder.
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.errno == errno.ENOSPC:
            raise DiskFullError(errno.ENOSPC, f"no space left on the device of {path.parent} while writing "
                                f"{path.name}; free some space and rerun (what was saved before is kept)") from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def holder_line() -> str:
    return f"process {os.getpid()} on {socket.gethostname()}"


@contextlib.contextmanager
def file_lock(path: str | Path, what: str, *, blocking: bool = False, hint: str = ""):
    """Hold an exclusive lock on ``path`` while the block runs.

    Non-blocking: if another live process holds it, raise LockedError at once, naming ``what``,
    the holder and ``hint`` (what to do). Blocking: wait for it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise LockedError(f"{what} is in use by {holder}. {hint}".strip()) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder_line().encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def run_lock(run_dir: str | Path):
    """One training process per run folder (``run_dir/train.lock``)."""
    return file_lock(Path(run_dir) / "train.lock", f"{run_dir} (being trained)",
                     hint="Wait for it to finish (a rerun then resumes or skips it), or stop that process; a lock "
                          "left by a killed process is taken over automatically.")


@contextlib.contextmanager
def cache_lock(path: str | Path, *, timeout: float = 3600.0):
    """Serialise the making of one cache file across processes (the second waits, then reads the cache)."""
    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        t = time.time()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.time() - t > timeout:
                    raise LockedError(f"waited {timeout:.0f} s for another process to finish making {path}") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
