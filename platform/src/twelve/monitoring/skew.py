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

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twelve.core import paths
from twelve.monitoring import drift, profiling, reports, skew_report

if TYPE_CHECKING:
    from whylogs.core import DatasetProfileView

log = logging.getLogger(__name__)

SERVING_PROFILES_DIR = "serving_profiles"  # = twelve.serving.runtime.SERVING_PROFILES_DIR
TRAINING_SET_DATASET = "training_set"


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


def _compared(features, reference, target, exclude: Sequence[str]) -> list[str]:
    """The features compared, without the excluded ones.

    Those given, else the reference's features that serving profiled too.

    Raises:
        SkewError: an excluded feature is not among them (a typo would compare it silently).
    """
    wanted = list(features or [])
    if not wanted:
        wanted = [c for c in profiling.column_names(reference) if c in target.get_columns()]
    unknown = sorted(set(exclude) - set(wanted))
    if unknown:
        raise SkewError(f"excluded feature(s) {unknown} are not among the compared {wanted}")
    return [name for name in wanted if name not in set(exclude)]


def _write(path: Path, html_text: str, model_version: str, facts: dict, results) -> None:
    """The HTML report and its JSON twin (facts and per-feature results)."""
    reports.write_report(html_text, path)
    document = {
        "model_version": model_version,
        "facts": facts,
        "results": [r.to_dict() for r in results],
    }
    path.with_suffix(".json").write_text(json.dumps(document, indent=2, default=str))


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
    wanted = _compared(features or latest.get("feature_columns"), reference, target, exclude)
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
    html_text = skew_report.render_skew_report(
        reference,
        target,
        results,
        title=f"Training-serving skew: {model_version}",
        facts=facts,
        thresholds=thresholds,
    )
    path = output or home / "reports" / "serving_skew" / f"{model_version}.html"
    _write(Path(path), html_text, model_version, facts, results)
    summary = drift.drift_frame(results)
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
