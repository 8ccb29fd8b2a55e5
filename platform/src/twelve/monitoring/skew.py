"""Training-serving skew (factor 9): serving input profiles vs the served model's training profile.

A served bento writes whylogs profiles of what it scored to
``<TWELVE_HOME>/serving_profiles/<model version>/<timestamp>-<pid>.bin``
(``twelve.serving.runtime``);
each sidecar names the model and its reference profile (the training set the model was fitted
on, copied into the BentoML model). :func:`run_skew` merges the serving profiles of one model
version (optionally only those written since a time), compares each model input feature with the
reference (:mod:`twelve.monitoring.drift`), and writes a self-contained HTML report (inline SVG
charts,
no network) per model version.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twelve.core import paths
from twelve.monitoring import drift, profiling, reports

if TYPE_CHECKING:
    from whylogs.core import DatasetProfileView

log = logging.getLogger(__name__)

SERVING_PROFILES_DIR = "serving_profiles"  # = twelve.serving.runtime.SERVING_PROFILES_DIR
TRAINING_SET_DATASET = "training_set"
VERDICT_COLORS = {"drift": "#d1495b", "warn": "#edae49", "ok": "#2e8b57", "skipped": "#8a949e"}
REFERENCE_COLOR = "#8a949e"


class SkewError(RuntimeError):
    """Nothing to compare (no serving profile, no reference): the message says what is missing."""


@dataclass(frozen=True)
class SkewReport:
    """What :func:`run_skew` compared and wrote."""

    model_version: str
    profiles: list[Path]
    rows: int
    reference: str
    results: list[drift.FeatureDrift]
    report: Path
    facts: dict[str, Any]

    @property
    def verdicts(self) -> dict[str, int]:
        """How many features got each verdict."""
        counts = dict.fromkeys(drift.VERDICTS, 0)
        for result in self.results:
            counts[result.verdict] += 1
        return counts

    @property
    def drifted(self) -> list[str]:
        """Features judged ``drift``."""
        return [r.feature for r in self.results if r.verdict == "drift"]


def serving_root(twelve_home: Path | None = None) -> Path:
    """``<TWELVE_HOME>/serving_profiles``."""
    return Path(twelve_home or paths.state_dir()) / SERVING_PROFILES_DIR


def _serves(folder: Path, profile: Path, registered_model: str | None) -> bool:
    """Whether a serving profile was written by a bento of ``registered_model`` (None: any)."""
    if registered_model is None:
        return True
    info = profiling.ProfileStore(folder.parent).info(folder.name, profile.stem)
    return info.get("registered_model") == registered_model


def latest_model_version(root: Path, registered_model: str | None = None) -> str:
    """The model version folder whose newest serving profile is the newest of all.

    Args:
        root: the serving profiles' folder.
        registered_model: only bentos of this MLflow model (a project's; None: any): projects
            sharing a ``TWELVE_HOME`` judge their own traffic only.

    Raises:
        SkewError: no serving profile at all (of that model).
    """
    newest: tuple[float, str] | None = None
    for folder in sorted(p for p in Path(root).glob("*") if p.is_dir()):
        for profile in folder.glob("*.bin"):
            stamp = profile.stat().st_mtime
            if (newest is None or stamp > newest[0]) and _serves(folder, profile, registered_model):
                newest = (stamp, folder.name)
    if newest is None:
        of_model = f" of {registered_model}" if registered_model else ""
        raise SkewError(
            f"no serving profile{of_model} under {root}: serve a bento (bentoml serve) and send "
            "requests; profiles are written once per monitoring interval"
        )
    return newest[1]


def merged_serving_profile(
    root: Path, model_version: str, since: datetime | None = None
) -> tuple[DatasetProfileView, list[Path], list[dict[str, Any]]]:
    """Merge the serving profiles of one model version (written at or after ``since``).

    Returns:
        The merged view, the profile files and their sidecars (oldest first).

    Raises:
        SkewError: none matches.
    """
    store = profiling.ProfileStore(root)
    infos = [store.info(model_version, version) for version in store.versions(model_version)]
    if since is not None:
        infos = [i for i in infos if datetime.fromisoformat(i["created"]) >= since]
    if not infos:
        raise SkewError(
            f"no serving profile of model version {model_version!r} in {Path(root) / model_version}"
            + (f" written since {since.isoformat()}" if since else "")
        )
    views = [store.read(model_version, info["version"]) for info in infos]
    merged = views[0]
    for view in views[1:]:
        merged = merged.merge(view)
    return merged, [store.path_of(model_version, i["version"]) for i in infos], infos


def reference_profile(
    info: dict[str, Any],
    profiles_root: Path | None = None,
    dataset: str = TRAINING_SET_DATASET,
):
    """The training reference profile a serving sidecar names, and where it was read.

    The copy inside the BentoML model comes first (it is what the bento was built with); the
    twelve profile store (``<TWELVE_HOME>/profiles/<dataset>/<md5>.bin``) otherwise.

    Raises:
        SkewError: neither exists.
    """
    from whylogs.core import DatasetProfileView

    inside = info.get("reference_profile_file")
    if inside and Path(inside).is_file():
        return DatasetProfileView.deserialize(Path(inside).read_bytes()), str(inside)
    version = info.get("reference_profile_version")
    store = profiling.ProfileStore(profiles_root)
    if version and store.exists(dataset, version):
        path = store.path_of(dataset, version)
        return store.read(dataset, version), str(path)
    raise SkewError(
        f"the reference profile of this model (training set {version!r}) is found neither at "
        f"{inside} nor in {store.root / dataset}"
    )


# --------------------------------------------------------------------------- the report
def _chart(
    reference, target, name: str, result: drift.FeatureDrift, target_label: str = "serving"
) -> str:
    with reports._style():  # the data reports' chart style (same look, inline SVG)
        if result.kind in ("numeric", "datetime") and result.test == "ks":
            return _numeric_chart(reference, target, name, target_label)
        if result.test == "chi2":
            return _category_chart(reference, target, name, target_label)
    return ""


def _numeric_chart(reference, target, name: str, target_label: str = "serving") -> str:
    ref = profiling.column_summary(reference, name)
    tgt = profiling.column_summary(target, name)
    low = min(ref["q_01"], tgt["q_01"])
    high = max(ref["q_99"], tgt["q_99"])
    if not high > low:
        low, high = min(ref["min"], tgt["min"]) - 0.5, max(ref["max"], tgt["max"]) + 0.5
    edges = np.linspace(low, high, 31)
    figure, axes = reports._figure()
    for view, label, color, fill in (
        (reference, "training", REFERENCE_COLOR, True),
        (target, target_label, "#1f6feb", False),
    ):
        _, counts = profiling.numeric_histogram(view, name, edges=edges)
        total = counts.sum()
        shares = counts / total if total > 0 else counts
        axes.stairs(shares, edges, fill=fill, color=color, alpha=0.45 if fill else 1, label=label)
    reports._plain_axis(axes.xaxis)
    axes.set_ylabel("share of rows")
    axes.legend(frameon=False, fontsize=7)
    return reports._svg(figure)


def _category_chart(reference, target, name: str, target_label: str = "serving") -> str:
    ref = profiling.column_summary(reference, name, top=drift.CATEGORY_TOP)
    tgt = profiling.column_summary(target, name, top=drift.CATEGORY_TOP)
    labels, table = drift.category_table(ref, tgt)
    if not labels:
        return ""
    shares = table / np.clip(table.sum(axis=1, keepdims=True), 1, None)
    order = np.argsort(-(shares[0] + shares[1]))[:12]
    figure, axes = reports._figure(height=max(1.6, 0.25 * len(order) + 0.6))
    positions = np.arange(len(order))[::-1]
    axes.barh(
        positions + 0.2, shares[0][order], height=0.4, color=REFERENCE_COLOR, label="training"
    )
    axes.barh(positions - 0.2, shares[1][order], height=0.4, color="#1f6feb", label=target_label)
    axes.set_yticks(positions, [reports._label(labels[i]) for i in order])
    axes.set_xlabel("share of rows")
    axes.grid(axis="y", visible=False)
    axes.legend(frameon=False, fontsize=7)
    return reports._svg(figure)


def _number(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1d2733;margin:0;
background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta p{margin:2px 0;color:#44505c}
.tiles{display:flex;gap:10px;flex-wrap:wrap;margin:16px 0}
.tile{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:8px 14px;min-width:90px}
.tile b{display:block;font-size:20px}.tile span{color:#5b6770;font-size:12px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e4e8ec;padding:4px 8px;text-align:right;font-size:13px}
th:first-child,td:first-child,td.l,th.l{text-align:left}
.badge{border-radius:10px;padding:1px 8px;color:#fff;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:10px}
.card h3{font-size:15px;margin:0 0 4px}.card p{margin:2px 0;color:#44505c;font-size:12px}
.card svg{max-width:100%;height:auto}
footer{margin-top:28px;color:#5b6770;font-size:12px}
"""


def _badge(verdict: str) -> str:
    color = VERDICT_COLORS.get(verdict, "#8a949e")
    return f"<span class='badge' style='background:{color}'>{html.escape(verdict)}</span>"


def render_skew_report(
    reference,
    target,
    results: Sequence[drift.FeatureDrift],
    *,
    title: str,
    facts: dict[str, Any],
    thresholds: drift.DriftThresholds,
    target_label: str = "serving",
    kind: str = "training-serving skew",
) -> str:
    """The skew report as one self-contained HTML document (inline SVG, no external resource).

    The drift reports of arriving months use the same page with ``target_label="month"`` and
    ``kind="drift"``: the target is then a month of data, not serving traffic.

    Args:
        reference: the training reference profile.
        target: the merged serving profile (or the profile of the judged data).
        results: :func:`twelve.monitoring.drift.compare_profiles` output.
        title: the heading.
        facts: label -> value pairs for the header (model, bento, rows, window...).
        thresholds: the thresholds used (stated in the report).
        target_label: what the target is, in the table and chart legends.
        kind: the report's kind, in the page title.
    """
    label = html.escape(target_label)
    frame = drift.drift_frame(results)
    counts = dict.fromkeys(drift.VERDICTS, 0)
    for result in results:
        counts[result.verdict] += 1
    tiles = "".join(
        f"<div class='tile'><b>{counts[v]}</b><span>{v}</span></div>" for v in drift.VERDICTS
    )
    meta = "".join(
        f"<p><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</p>" for k, v in facts.items()
    )
    rows = []
    for feature, row in frame.iterrows():
        rows.append(
            f"<tr><td><a href='#f-{html.escape(feature)}'>{html.escape(feature)}</a></td>"
            f"<td class='l'>{html.escape(row['kind'])}</td><td>{_badge(row['verdict'])}</td>"
            f"<td>{_number(row['distance'])}</td><td class='l'>{html.escape(row['test'])}</td>"
            f"<td>{_number(row['statistic'])}</td><td>{_number(row['p_value'])}</td>"
            f"<td>{_number(row['p_adjusted'])}</td>"
            f"<td>{_number(row['reference_null_share'])}</td>"
            f"<td>{_number(row['target_null_share'])}</td>"
            f"<td>{row['target_rows']}</td></tr>"
        )
    by_name = {r.feature: r for r in results}
    cards = []
    for feature in frame.index:
        result = by_name[feature]
        chart = _chart(reference, target, feature, result, target_label)
        cards.append(
            f"<div class='card' id='f-{html.escape(feature)}'><h3>{html.escape(feature)} "
            f"{_badge(result.verdict)}</h3><p>Hellinger {_number(result.distance)} · "
            f"{html.escape(result.test)} p (Holm) {_number(result.p_adjusted)}"
            + (f" · {html.escape(result.note)}" if result.note else "")
            + f"</p>{chart}</div>"
        )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {html.escape(kind)}</title><style>{_CSS}</style></head>
<body><main><header><h1>{html.escape(title)}</h1><div class="meta">{meta}
<p><b>generated</b>: {generated}</p></div></header>
<div class="tiles">{tiles}</div>
<h2>Per feature</h2>
<table><thead><tr><th>feature</th><th class='l'>kind</th><th>verdict</th><th>Hellinger</th>
<th class='l'>test</th><th>statistic</th><th>p</th><th>p (Holm)</th><th>null share train</th>
<th>null share {label}</th><th>{label} rows</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<h2>Distributions (grey: training reference, blue: {label})</h2>
<div class="grid">{"".join(cards)}</div>
<footer>Verdict: <b>drift</b> when the Holm-adjusted p-value is below {thresholds.alpha} and the
Hellinger distance reaches {thresholds.drift_distance}; <b>warn</b> from a distance of
{thresholds.warn_distance}; <b>skipped</b> below {thresholds.min_rows} non-null values on a side.
Numbers: two-sample Kolmogorov-Smirnov on the KLL sketches (rank error about 1 %), Hellinger on the
deciles of both sides. Categories: chi-squared homogeneity over the values frequent on both sides
(rare values pooled). Generated by twelve.monitoring.skew from whylogs profiles.</footer>
</main></body></html>
"""


def run_skew(
    *,
    twelve_home: Path | None = None,
    model_version: str | None = None,
    since: datetime | None = None,
    features: Sequence[str] | None = None,
    thresholds: drift.DriftThresholds | None = None,
    output: Path | None = None,
    exclude: Sequence[str] = (),
    reference_dataset: str = TRAINING_SET_DATASET,
) -> SkewReport:
    """Compare the serving profiles of a model version with its training reference.

    Args:
        twelve_home: the state root (default ``TWELVE_HOME``).
        model_version: the serving profile folder (a BentoML model version such as
            ``v3-0123456789ab``); default the one served most recently.
        since: only profiles written at or after this time.
        features: features to compare; default the model input columns the sidecar lists.
        thresholds: when a shift is drift.
        output: the report path; default ``<TWELVE_HOME>/reports/serving_skew/<version>.html``.
        exclude: features left out (e.g. a calendar feature that differs by construction).
        reference_dataset: the profile store's dataset of the training set (the fallback when
            the bento's own copy of the reference is gone).

    Returns:
        The results and the report's path.

    Raises:
        SkewError: no serving profile or no reference profile.
    """
    home = Path(twelve_home or paths.state_dir())
    root = serving_root(home)
    model_version = model_version or latest_model_version(root)
    target, files, infos = merged_serving_profile(root, model_version, since)
    latest = infos[-1]
    reference, reference_path = reference_profile(latest, home / "profiles", reference_dataset)
    wanted = list(features or latest.get("feature_columns") or [])
    if not wanted:
        wanted = [c for c in profiling.column_names(reference) if c in target.get_columns()]
    unknown = sorted(set(exclude) - set(wanted))
    if unknown:
        raise SkewError(f"excluded feature(s) {unknown} are not among the compared {wanted}")
    wanted = [name for name in wanted if name not in set(exclude)]
    thresholds = thresholds or drift.DriftThresholds()
    results = drift.compare_profiles(reference, target, wanted, thresholds)
    rows = profiling.row_count(target)
    facts = {
        "model": latest.get("model_tag", model_version),
        "registered model": (
            f"{latest.get('registered_model')} v{latest.get('mlflow_model_version')}"
        ),
        "bento": latest.get("bento_tag"),
        "serving rows": rows,
        "serving window": f"{infos[0].get('window_start')} → {latest.get('window_end')}",
        "serving profiles": len(files),
        "excluded features": ", ".join(exclude) or "none",
        "reference": f"training set {latest.get('reference_profile_version')} ({reference_path})",
    }
    html_text = render_skew_report(
        reference,
        target,
        results,
        title=f"Training-serving skew: {model_version}",
        facts=facts,
        thresholds=thresholds,
    )
    path = output or home / "reports" / "serving_skew" / f"{model_version}.html"
    reports.write_report(html_text, path)
    summary = drift.drift_frame(results)
    (Path(path).with_suffix(".json")).write_text(
        json.dumps(
            {
                "model_version": model_version,
                "facts": facts,
                "results": [r.to_dict() for r in results],
            },
            indent=2,
            default=str,
        )
    )
    log.info(
        "skew of %s over %d serving rows: %s (report %s)",
        model_version,
        rows,
        summary["verdict"].value_counts().to_dict() if not summary.empty else {},
        path,
    )
    return SkewReport(
        model_version=model_version,
        profiles=files,
        rows=rows,
        reference=reference_path,
        results=list(results),
        report=Path(path),
        facts=facts,
    )


def results_markdown(results: Sequence[drift.FeatureDrift]) -> str:
    """A markdown table of the results (Dagster metadata), worst first."""
    frame = drift.drift_frame(results)
    lines = ["| feature | verdict | Hellinger | test | p (Holm) |", "|---|---|---:|---|---:|"]
    for feature, row in frame.iterrows():
        lines.append(
            f"| {feature} | {row['verdict']} | {_number(row['distance'])} | {row['test']} | "
            f"{_number(row['p_adjusted'])} |"
        )
    return "\n".join(lines)
