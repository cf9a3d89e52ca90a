"""The common tail of the benchmark scripts: a Markdown report printed, and written to ``--out`` when given."""
from __future__ import annotations

from pathlib import Path


def publish(text: str, out: Path | None) -> None:
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
