"""Keep the README's results section equal to the last quick-profile run's files.

The runner calls ``update_readme`` after a complete quick run into ``figures/``: the text
between the markers ``<!-- results:begin -->`` and ``<!-- results:end -->`` is replaced by
``figures/table1.md``, ``claims.md``, ``table2.md`` and ``fig2.md`` as they are, so no number in the README is
typed by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def results_section(out_dir: Path) -> str:
    parts = []
    manifest = out_dir / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        books = m.get("notebooks", {})
        total = sum(r.get("wall_s", 0) for r in books.values())
        parts.append(f"From the last `./run_all.sh` (profile `{m.get('profile')}`, commit "
                     f"`{str(m.get('git_commit', '?'))[:12]}`, {m.get('device')}, digits: "
                     f"{m.get('digit_source')}; {total / 60:.1f} min for {len(books)} notebooks, reusing whatever "
                     "trained runs data/runs already held).")
    for name in ("table1.md", "claims.md", "table2.md", "fig2.md"):
        path = out_dir / name
        if path.exists():
            text = path.read_text().strip()
            if name == "table2.md":
                parts.append("#### Table 2: linear probes on the inferred latent z* (stochastic MovingMNIST)")
            if name == "fig2.md":
                parts.append("#### Fig. 2: CATER actions from the inferred latent z* (linear classifier, mAP)")
            parts.append(text.replace("# Claims that Table 1 can test", "#### Claims that Table 1 can test"))
    return "\n\n".join(parts)


def update_readme(out_dir: str | Path = ROOT / "figures", readme: Path = ROOT / "README.md") -> bool:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{results_section(Path(out_dir))}\n{END}{tail}")
    return True
