"""The audit as a self-contained HTML page: a row per factor with its evidence, and where to look.

No script, no font, no stylesheet from the network (the page is opened offline, from the end of
``make demo``): the CSS is inline and every value is escaped.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from twelve.core import paths
from twelve.proof.scorecard import FAIL, PASS, WARN, Scorecard

FOLDER = "audit"
_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#1d1d1f;
  padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} .meta{color:#666;margin-top:0}
.counts span{display:inline-block;margin-right:.8rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin-top:1rem}
td,th{border-top:1px solid #ddd;padding:.5rem;vertical-align:top;text-align:left}
th{font-size:.8rem;text-transform:uppercase;color:#666}
.status{font-weight:700;border-radius:4px;padding:.1rem .5rem;color:#fff;white-space:nowrap}
.pass{background:#1a7f37} .warn{background:#9a6700} .fail{background:#cf222e}
ul{margin:0;padding-left:1.1rem} li{margin:.1rem 0;word-break:break-word}
.next li,.notes li{margin:.25rem 0} code{font-size:.9em}
"""


def page_path(project: str, home: Path | None = None) -> Path:
    """``<TWELVE_HOME>/audit/<project>.html``."""
    return Path(home or paths.state_dir()) / FOLDER / f"{project}.html"


def render(card: Scorecard, generated: datetime | None = None) -> str:
    """The page's HTML (pure)."""
    esc = html.escape
    stamp = (generated or datetime.now(UTC)).isoformat(timespec="seconds")
    counts = card.counts()
    rows = "\n".join(
        f'<tr id="{esc(row.key)}"><td>{row.number}</td><td>{esc(row.title)}</td>'
        f'<td><span class="status {esc(row.status)}">{esc(row.status.upper())}</span></td>'
        f"<td><ul>{''.join(f'<li>{esc(item)}</li>' for item in row.evidence)}</ul></td></tr>"
        for row in card.rows
    )
    steps = "".join(f"<li>{esc(step)}</li>" for step in card.next_steps())
    notes = "".join(f"<li>{esc(note)}</li>" for note in card.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>twelve audit: {esc(card.project)}</title><style>{_CSS}</style></head>
<body>
<h1>Twelve-factor audit of {esc(card.project)}</h1>
<p class="meta">Judged from the run state of its champion, {esc(stamp)}.</p>
<p class="counts"><span class="status pass">{counts[PASS]} {PASS}</span>
<span class="status warn">{counts[WARN]} {WARN}</span>
<span class="status fail">{counts[FAIL]} {FAIL}</span></p>
<table><thead><tr><th>#</th><th>factor</th><th>verdict</th><th>evidence</th></tr></thead>
<tbody>
{rows}
</tbody></table>
{f'<h2>Where to look next</h2><ul class="next">{steps}</ul>' if steps else ""}
{f'<h2>What could not be read</h2><ul class="notes">{notes}</ul>' if notes else ""}
</body></html>
"""


def write_page(card: Scorecard, home: Path | None = None) -> Path:
    """Write the page to :func:`page_path` and return where."""
    path = page_path(card.project, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(card))
    return path
