"""Keep the written results equal to the last quick-profile run's files.

After a complete quick run into ``figures/`` the runner calls ``update_readme``: the block between
``<!-- results:begin -->`` and ``<!-- results:end -->`` of ``docs/results.md`` becomes
``figures/table1.md``, ``claims.md``, ``table2.md`` and ``fig2.md`` as they are, and the README's
``<!-- headline:begin -->`` block becomes Table 1 and one line per claim with its verdict. No
number in either is typed by hand.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ("<!-- results:begin -->", "<!-- results:end -->")
HEADLINE = ("<!-- headline:begin -->", "<!-- headline:end -->")


def provenance(out_dir: Path) -> str:
    manifest = out_dir / "manifest.json"
    if not manifest.exists():
        return ""
    m = json.loads(manifest.read_text())
    books = m.get("notebooks", {})
    seeds = m.get("seeds", [])
    return (f"From the last `./run_all.sh` (profile `{m.get('profile')}`, {len(seeds)} seeds, commit "
            f"`{str(m.get('git_commit', '?'))[:12]}` for the last invocation, {m.get('device')}, digits: "
            f"{m.get('digit_source')}; {sum(r.get('wall_s', 0) for r in books.values()) / 60:.1f} min summed over "
            f"the {len(books)} notebooks' last executions{trained_where(m)}"
            f"{train_seconds(m)}; `figures/manifest.json` has each notebook's time).")


def trained_where(m: dict) -> str:
    """Whether the last invocation trained the runs or found them trained in the data folder."""
    runs, trained = len(m.get("runs", {})), m.get("runs_trained_by_this_invocation")
    if trained is None:  # a manifest written before this was recorded
        return ", which may reuse runs already trained in the data folder"
    if runs and trained == runs:
        return f", in which the last invocation trained all {runs} runs from scratch"
    if trained == 0:
        return ", which reuse runs already trained in the data folder"
    return f", in which the last invocation trained {trained} of the {runs} runs and reused the others"


def train_seconds(m: dict) -> str:
    """The runs' summed training time: on a CPU each run trains on one thread, so over the workers it is
    the least wall time a from-scratch run spends training, however they are scheduled."""
    if "summed_train_s" not in m:
        return ""
    return (f"; training these {len(m.get('runs', {}))} runs took {m['summed_train_s'] / 60:.1f} min summed over "
            f"the runs (on a CPU each trains on one thread)")


def results_section(out_dir: Path) -> str:
    parts = [provenance(out_dir)]
    for name, title in (("table1.md", None), ("claims.md", None),
                        ("table2.md", "#### Table 2: linear probes on the inferred latent z* (stochastic MovingMNIST)"),
                        ("fig2.md", "#### Fig. 2: CATER actions from the inferred latent z* (linear classifier, mAP)")):
        path = out_dir / name
        if path.exists():
            if title:
                parts.append(title)
            parts.append(path.read_text().strip().replace("# Claims that Table 1 can test",
                                                          "#### Claims that Table 1 can test"))
    return "\n\n".join(p for p in parts if p)


def claim_lines(out_dir: Path) -> list[str]:
    """``- claim: **verdict**`` for every claim of claims.md, table2.md and fig2.md: a claim tested pair by pair
    (its first row holds the first pair's verdict) gets the verdict of its closing ``... overall`` row."""
    verdicts: dict[str, str] = {}
    for name in ("claims.md", "table2.md", "fig2.md"):
        path = out_dir / name
        if not path.exists():
            continue
        claim = None
        for row in path.read_text().splitlines():
            cells = [c.strip() for c in row.strip("|").split("|")]
            if re.match(r"^\d+[ab]?\. ", cells[0]) and "**" in cells[-1]:
                claim = cells[0]
                verdicts[claim] = cells[-1]
            elif claim and not cells[0] and cells[-1].endswith(" overall"):
                verdicts[claim] = cells[-1][: -len(" overall")]
    return [f"- {claim}: {verdict}" for claim, verdict in verdicts.items()]


def headline(out_dir: Path) -> str:
    table = (out_dir / "table1.md").read_text().strip() if (out_dir / "table1.md").exists() else ""
    return "\n\n".join(p for p in (provenance(out_dir), table, "\n".join(claim_lines(out_dir))) if p)


def replace_block(path: Path, markers: tuple[str, str], body: str) -> bool:
    text = path.read_text()
    begin, end = markers
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}")
    return True


def update_readme(out_dir: str | Path = ROOT / "figures", root: Path = ROOT) -> bool:
    out_dir = Path(out_dir)
    a = replace_block(root / "docs" / "results.md", RESULTS, results_section(out_dir))
    b = replace_block(root / "README.md", HEADLINE, headline(out_dir))
    return a or b
