"""Command-line checks shared by ``vjvcr.experiments``, ``vjvcr.runner`` and ``vjvcr.ddp``.

A bad option ends in one line on stderr that names the value and the fix, exit status 2,
and nothing written.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


class UsageError(ValueError):
    """A bad option or path given by the user: reported in one line, nothing written."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, with errors as one line (no usage block) and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def fail(message: str, prog: str = "vjvcr"):
    """Print ``message`` as the one error line and exit with status 2."""
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.exit(2)


def _writable(folder: Path) -> bool:
    """Whether a folder can be created in ``folder`` (tried, then removed: root passes os.access everywhere)."""
    import tempfile

    try:
        os.rmdir(tempfile.mkdtemp(prefix=".vjvcr-write-test-", dir=folder))
        return True
    except OSError:
        return False


def check_folder(path: str | Path, what: str) -> Path:
    """``path`` as a usable output folder: an existing writable folder, or a new one in an existing writable folder."""
    path = Path(path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{what} {str(path)!r} is a file, not a folder; give a folder path")
        if not _writable(path):
            raise UsageError(f"{what} {str(path)!r} is not writable; give a folder you can write to")
        return path
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{what} {str(path)!r} is under a missing folder {str(parent)!r}; create that "
                         f"folder first or give another path")
    if not _writable(parent):
        raise UsageError(f"{what} {str(path)!r} cannot be created: {str(parent)!r} is not writable; "
                         f"give a folder you can write to")
    return path


def seeds(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated non-negative integers, e.g. '0,1'."""
    out = []
    for part in text.split(","):
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"seed {part.strip()!r} is not an integer; give comma-separated seeds such as 0,1") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"seed {value} is negative; seeds are integers >= 0, e.g. 0,1")
        out.append(value)
    return tuple(out)


def variants(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated Table-1 variants (or the supervised ceiling), e.g. 'vjvcr,gen'."""
    from .losses import BASELINES, VARIANTS

    names = tuple(v.strip() for v in text.split(","))
    bad = [v for v in names if v not in VARIANTS and v not in BASELINES]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown variant {bad[0]!r}; valid variants: {', '.join([*VARIANTS, *BASELINES])}")
    return names


def time_limit(text: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"time limit {text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"time limit {text} must be a positive number of seconds")
    return value


def device(text: str) -> str:
    """argparse type: 'cpu', 'cuda' or 'cuda:N', available on this machine."""
    import torch

    if text != "cpu" and not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu or cuda")
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"device {text!r} was asked for but no CUDA GPU is available; use cpu")
    return text
