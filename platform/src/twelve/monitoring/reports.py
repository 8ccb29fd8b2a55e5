"""Readable data reports (factor 8): one self-contained HTML page per data version.

Built from a whylogs profile (and optionally a few sample rows): an overview, alerts, a summary
table, missing values, and one card per column with its chart -- a histogram from the KLL sketch for
numbers and dates, bars of the most frequent values for categories and small integer ranges.

Charts are inline SVG drawn with matplotlib's Agg/SVG backends; the page has no script and loads
nothing from anywhere (whylogs' own HTML reports fetch d3, jQuery and Bootstrap from CDNs and stay
blank offline), so it opens from a file, an MLflow artifact or an air-gapped machine alike.
"""

from __future__ import annotations

import html
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from twelve.core import paths
from twelve.monitoring import profile_summary, profiling
from twelve.monitoring.report_charts import column_chart, missing_chart, short_label
from twelve.monitoring.report_format import (
    MISSING_WARN_SHARE,
    NONE,
    alerts,
    format_count,
    format_number,
    format_value,
    percent,
)

if TYPE_CHECKING:
    from whylogs.core import DatasetProfileView

log = logging.getLogger(__name__)

# Stored with every report's MLflow run: bump it when the profile or the report changes, so
# versions documented in the old format are documented again instead of being reused.
FORMAT_VERSION = "1"


def report_path(dataset: str, version: str, root: str | Path | None = None) -> Path:
    """Where the report of a dataset at a version lives.

    ``<TWELVE_HOME>/reports/<dataset>/<version>.html``, beside the profile of the same key.

    Args:
        dataset: the dataset's name (as in the profile store).
        version: its data version.
        root: the reports folder; default ``<TWELVE_HOME>/reports``.
    """
    base = Path(root) if root else paths.state_dir() / "reports"
    # The same naming rules as the profile store, so a report always sits beside a profile key.
    profiling.check_name("dataset", dataset)
    profiling.check_name("version", version)
    return base / dataset / f"{version}.html"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fact(value: Any) -> str:
    """A header fact as text: lists comma-joined, mappings as 'key: value; ...'."""
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_fact(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _anchor(name: str) -> str:
    return "col-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


# --------------------------------------------------------------------------- the page
_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --accent:#3b6ea5; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:var(--bg);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; }
main { max-width:1280px; margin:0 auto; padding:24px 28px 48px; }
header h1 { margin:0 0 4px; font-size:24px; }
header .version { font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  background:#e9eef5; color:#243b53; padding:2px 8px; border-radius:4px; margin-left:6px;
  vertical-align:middle; }
header p { margin:2px 0; color:var(--muted); font-size:13px; }
nav { margin:14px 0 4px; font-size:13px; }
nav a { margin-right:14px; color:var(--accent); text-decoration:none; }
h2 { font-size:17px; margin:28px 0 10px; padding-bottom:4px; border-bottom:1px solid var(--line); }
.tiles { display:flex; flex-wrap:wrap; gap:12px; margin-top:16px; }
.tile { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 16px;
  min-width:140px; }
.tile b { display:block; font-size:20px; }
.tile span { color:var(--muted); font-size:12px; }
ul.alerts { background:#fff8e6; border:1px solid #f0d9a0; border-radius:8px; padding:10px 28px;
  margin:0; }
ul.alerts li { margin:2px 0; }
p.ok { background:#eef8f0; border:1px solid #b9e0c2; border-radius:8px; padding:10px 16px;
  margin:0; }
.scroll { overflow-x:auto; background:#fff; border:1px solid var(--line); border-radius:8px; }
table { border-collapse:collapse; width:100%; font-size:12.5px; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:right;
  white-space:nowrap; }
th { background:#f0f3f7; position:sticky; top:0; font-weight:600; }
td.l, th.l { text-align:left; }
td.top { text-align:left; white-space:normal; min-width:200px; max-width:320px; color:#334e68; }
tr:hover td { background:#f8fafc; }
td a { color:var(--accent); text-decoration:none; font-weight:600; }
.kind { display:inline-block; font-size:11px; padding:0 6px; border-radius:10px;
  background:#e9eef5; color:#334e68; }
.kind.numeric { background:#e3f0ff; } .kind.categorical { background:#f3e8ff; }
.kind.datetime { background:#e6f6f1; } .kind.boolean { background:#fff1e0; }
.warn { color:#b42318; font-weight:600; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(560px,1fr)); gap:14px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card h3 { margin:0 0 6px; font-size:15px; }
.card .body { display:flex; gap:14px; align-items:flex-start; }
.card dl { margin:0; display:grid; grid-template-columns:auto auto; gap:1px 10px; font-size:12px;
  min-width:170px; }
.card dt { color:var(--muted); }
.card dd { margin:0; text-align:right; font-variant-numeric:tabular-nums; }
.card .chart { flex:1; min-width:0; }
.card .chart svg { width:100%; height:auto; }
.card p.caption { color:var(--muted); font-size:12px; margin:4px 0 0; }
.missing svg { max-width:760px; width:100%; height:auto; background:#fff; }
footer { margin-top:32px; color:var(--muted); font-size:12px; }
"""


def _summary_table(summary: pd.DataFrame) -> str:
    head = (
        "<tr><th class='l'>column</th><th class='l'>kind</th><th>rows</th><th>missing</th>"
        "<th>distinct ≈</th><th>mean</th><th>min</th><th>median</th><th>max</th>"
        "<th class='l'>most frequent</th></tr>"
    )
    rows = []
    for name, row in summary.iterrows():
        kind = row["kind"]
        missing = percent(row["null_share"])
        if row["null_share"] > MISSING_WARN_SHARE:
            missing = f"<span class='warn'>{missing}</span>"
        non_null = max(1, row["count"] - row["null_count"])
        top = ", ".join(
            f"{_e(short_label(value, 18))} ({percent(count / non_null)})"
            for value, count in row["top_items"][:3]
        )
        mean = format_value(row["mean"], kind)
        rows.append(
            f"<tr><td class='l'><a href='#{_anchor(name)}'>{_e(name)}</a></td>"
            f"<td class='l'><span class='kind {_e(kind)}'>{_e(kind)}</span></td>"
            f"<td>{format_number(row['count'])}</td><td>{missing}</td>"
            f"<td>{format_count(row['cardinality'])}</td><td>{_e(mean)}</td>"
            f"<td>{_e(format_value(row['min'], kind))}</td>"
            f"<td>{_e(format_value(row['median'], kind))}</td>"
            f"<td>{_e(format_value(row['max'], kind))}</td><td class='top'>{top}</td></tr>"
        )
    return f"<div class='scroll'><table>{head}{''.join(rows)}</table></div>"


def _column_card(view: DatasetProfileView, name: str, row: Mapping[str, Any]) -> str:
    kind = row["kind"]
    chart, caption = column_chart(view, name, row)
    stats: list[tuple[str, str]] = [
        ("rows", format_number(row["count"])),
        ("missing", f"{format_number(row['null_count'])} ({percent(row['null_share'])})"),
        ("distinct ≈", format_count(row["cardinality"])),
    ]
    if kind in ("numeric", "datetime"):
        if kind == "numeric":
            stats += [("mean", format_number(row["mean"])), ("std", format_number(row["std"]))]
        stats += [
            (label, format_value(row[field], kind))
            for label, field in (
                ("min", "min"),
                ("1 %", "q_01"),
                ("25 %", "q_25"),
                ("median", "median"),
                ("75 %", "q_75"),
                ("99 %", "q_99"),
                ("max", "max"),
            )
        ]
    else:
        non_null = max(1, row["count"] - row["null_count"])
        stats += [
            (short_label(str(value), 16), percent(count / non_null))
            for value, count in row["top_items"][:5]
        ]
    listing = "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in stats)
    caption_html = f"<p class='caption'>{_e(caption)}</p>" if caption else ""
    return (
        f"<section class='card' id='{_anchor(name)}'><h3>{_e(name)} "
        f"<span class='kind {_e(kind)}'>{_e(kind)}</span></h3>"
        f"<div class='body'><dl>{listing}</dl><div class='chart'>{chart}{caption_html}</div></div>"
        "</section>"
    )


def _overview(view, summary: pd.DataFrame, version: str, source, facts) -> tuple[str, str]:
    """The header's facts and the tiles (rows, columns, missing cells, columns per kind)."""
    rows = profiling.row_count(view)
    cells = int(summary["count"].sum())
    missing_cells = int(summary["null_count"].sum())
    header_facts = {"version": version, **({"source": source} if source else {}), **(facts or {})}
    header_facts["profiled"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta_lines = "".join(
        f"<p><b>{_e(label)}</b>: {_e(_fact(value))}</p>"
        for label, value in header_facts.items()
        if label != "version"
    )
    tiles = [
        (format_number(rows), "rows"),
        (format_number(len(summary)), "columns"),
        (percent(missing_cells / cells if cells else math.nan), "missing cells"),
        *[
            (format_number(count), f"{kind} columns")
            for kind, count in summary["kind"].value_counts().items()
        ],
    ]
    tiles_html = "".join(
        f"<div class='tile'><b>{_e(v)}</b><span>{_e(k)}</span></div>" for v, k in tiles
    )
    return meta_lines, tiles_html


def _alerts_and_missing(summary: pd.DataFrame) -> tuple[str, str]:
    """The alerts list and the missing-values chart (or a line saying there is nothing)."""
    found = alerts(summary)
    alerts_html = (
        "<ul class='alerts'>" + "".join(f"<li>{_e(text)}</li>" for text in found) + "</ul>"
        if found
        else "<p class='ok'>Nothing stands out: no column is much missing, constant or unique.</p>"
    )
    missing_svg = missing_chart(summary)
    missing_html = (
        f"<div class='missing'>{missing_svg}</div>"
        if missing_svg
        else "<p class='ok'>No value is missing in any column.</p>"
    )
    return alerts_html, missing_html


def _sample(sample: pd.DataFrame | None, sample_rows: int) -> str:
    """The first rows of the data as a table (empty without a sample)."""
    if sample is None or sample.empty:
        return ""
    table = sample.head(sample_rows).to_html(index=False, na_rep=NONE, border=0, escape=True)
    return (
        f"<h2 id='sample'>Sample rows (first {min(sample_rows, len(sample))})</h2>"
        f"<div class='scroll'>{table}</div>"
    )


def render_report(
    view: DatasetProfileView,
    *,
    dataset: str,
    version: str,
    sample: pd.DataFrame | None = None,
    source: str | Path | None = None,
    facts: Mapping[str, Any] | None = None,
    sample_rows: int = 10,
) -> str:
    """Render the HTML data report of one data version.

    Args:
        view: the whylogs profile of the data.
        dataset: the dataset's name (the heading).
        version: the data version (DVC md5 or file md5), shown beside the name.
        sample: optionally the frame itself; its first ``sample_rows`` rows are shown.
        source: the file profiled, shown in the header.
        facts: more ``label -> value`` pairs for the header (e.g. partition, MLflow run).
        sample_rows: how many sample rows to show.

    Returns:
        A complete, self-contained HTML document.
    """
    # Keep every frequent item the sketch holds: the charts decide how many to draw.
    summary = profile_summary.summary_frame(view, top=10_000)
    meta_lines, tiles_html = _overview(view, summary, version, source, facts)
    alerts_html, missing_html = _alerts_and_missing(summary)
    cards = [_column_card(view, name, dict(row)) for name, row in summary.iterrows()]
    sample_html = _sample(sample, sample_rows)
    title = f"{dataset} @ {version}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · data report</title>
<style>{_CSS}</style></head>
<body><main>
<header><h1>{_e(dataset)}<span class="version">{_e(version)}</span></h1>{meta_lines}</header>
<nav><a href="#alerts">Alerts</a><a href="#summary">Summary</a><a href="#missing">Missing values</a>
<a href="#columns">Columns</a>{'<a href="#sample">Sample</a>' if sample_html else ""}</nav>
<div class="tiles">{tiles_html}</div>
<h2 id="alerts">Alerts</h2>{alerts_html}
<h2 id="summary">Summary</h2>{_summary_table(summary)}
<h2 id="missing">Missing values</h2>{missing_html}
<h2 id="columns">Columns</h2><div class="grid">{"".join(cards)}</div>
{sample_html}
<footer>Generated by twelve.monitoring.reports from a whylogs profile. Means, counts, missing
values, min and
max are exact; quantiles and histograms come from a KLL sketch (rank error about 0.3 %), distinct
counts from a HyperLogLog sketch (about 2 %), frequent values from a frequent-items sketch.</footer>
</main></body></html>
"""


def write_report(html_text: str, path: str | Path) -> Path:
    """Write a report, creating its folder.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- one call
@dataclass(frozen=True)
class DocumentedVersion:
    """What documenting one data version produced."""

    profile: profiling.StoredProfile
    report: Path
    summary: pd.DataFrame
    seconds_profile: float
    seconds_report: float


def document_version(
    frame: pd.DataFrame,
    *,
    dataset: str,
    version: str,
    store: profiling.ProfileStore,
    source: str | Path | None = None,
    facts: Mapping[str, Any] | None = None,
    reports_root: str | Path | None = None,
    sample_rows: int = 10,
) -> DocumentedVersion:
    """Profile a data version, store the profile under its version and write its HTML report.

    Args:
        frame: the data of that version.
        dataset: the dataset's name.
        version: the data version (the key of the profile and the report).
        store: where the profile goes.
        source: the file the frame was read from.
        facts: JSON-serializable facts for the sidecar and the report header.
        reports_root: the reports folder; default ``<TWELVE_HOME>/reports``.
        sample_rows: rows of ``frame`` shown in the report (0: none).

    Returns:
        The stored profile, the report's path, the summary and the time each part took.
    """
    started = time.perf_counter()
    view = profiling.profile_frame(frame)
    stored = store.write(dataset, version, view, source=source, extra=facts)
    profiled = time.perf_counter()
    page = render_report(
        view,
        dataset=dataset,
        version=version,
        sample=frame if sample_rows else None,
        source=source,
        facts=facts,
        sample_rows=sample_rows,
    )
    report = write_report(page, report_path(dataset, version, reports_root))
    done = time.perf_counter()
    log.info(
        "documented %s@%s: profile %.2f s, report %.2f s -> %s",
        dataset, version, profiled - started, done - profiled, report,
    )  # fmt: skip
    return DocumentedVersion(
        profile=stored,
        report=report,
        summary=profile_summary.summary_frame(view),
        seconds_profile=profiled - started,
        seconds_report=done - profiled,
    )
