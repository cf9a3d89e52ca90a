"""The failures a user can cause or meet, each reported by ``python -m vjvcr`` in one line that names the fix."""
from __future__ import annotations


class UsageError(ValueError):
    """A bad option or path given by the user: reported in one line, nothing written (exit status 2)."""


class DamagedFileError(RuntimeError):
    """A file a run or cache reads is cut, empty or not what it should be."""


class LockedError(RuntimeError):
    """Another live process holds the lock (a run folder being trained, an output folder being written)."""


class DiskFullError(OSError):
    """No space left where the project writes."""


class NotTrainedError(RuntimeError):
    """An analysis step found runs that its training step has not trained yet."""


# the errors python -m vjvcr answers in one line (exit status 1)
ONE_LINE = (DamagedFileError, LockedError, DiskFullError, NotTrainedError)
