"""The audit's rules: one pure function per factor, ``Evidence -> Verdict``.

A rule passes only on evidence that the mechanism ran and did its job on the champion; it warns
when the evidence does not exist yet for a reason a user can act on (never served, never
reproduced, no test record on this commit); it fails when the evidence contradicts the factor
(a data version nothing can restore, a served contract that is not the trained one, a parity test
that compared nothing, a sensor that skipped a drift). No rule reads a file or a store.
"""

from __future__ import annotations

from collections.abc import Callable

from twelve.core.config import config_hash
from twelve.proof.evidence import Evidence
from twelve.proof.rules_common import no_champion, worst
from twelve.proof.rules_serving import deployability, monitoring, skew
from twelve.proof.scorecard import FACTORS, FAIL, PASS, WARN, Row, Scorecard, Verdict

MANIFEST_KEYS = ("git_commit", "training_set_md5", "holdout_md5", "config_hash", "uv_lock_sha256")
SENSOR = "drift_retraining"


def versioning(evidence: Evidence) -> Verdict:
    """Every data version of the champion is in the DVC remote, and its commit exists."""
    if missing := no_champion(evidence):
        return missing
    lines, statuses = [], []
    commit = evidence.commit
    if evidence.commit_exists:
        lines.append(f"the champion's commit {commit[:12]} exists in git")
    elif evidence.commit_exists is None:
        statuses.append(WARN)
        lines.append(f"could not check that commit {commit[:12] or '(none)'} exists in git")
    else:
        statuses.append(FAIL)
        lines.append(f"the champion's commit {commit[:12] or '(none recorded)'} is not in git")
    if evidence.recorded.get("git_dirty"):
        statuses.append(WARN)
        lines.append("the champion was trained from uncommitted changes (git_dirty)")
    if evidence.data_versions is None:
        statuses.append(FAIL)
        lines.append("the DVC store could not be read: no data version was checked")
        return Verdict(worst(*statuses), lines)
    if not evidence.data_versions:
        statuses.append(FAIL)
        lines.append("the champion's manifest records no data version")
    for version in evidence.missing_data():
        statuses.append(FAIL)
        where = "only in the local DVC cache" if version.in_cache else "in neither"
        lines.append(
            f"MISSING {version.name} (md5 {version.md5}): {where} the DVC remote"
            + ("" if version.in_cache else " nor the cache")
        )
    held = [v for v in evidence.data_versions if v.in_remote]
    raw = sum(v.name.startswith("raw ") for v in held)
    lines.append(
        f"{len(held)} of {len(evidence.data_versions)} data versions of the champion are in the "
        f"DVC remote ({raw} raw, {len(held) - raw} derived)"
    )
    return Verdict(worst(*statuses), lines)


def features(evidence: Evidence) -> Verdict:
    """The served bento's contract is the trained one; the feature service is registered."""
    if missing := no_champion(evidence):
        return missing
    lines, statuses = [], []
    service = str(evidence.recorded.get("feature_service") or "")
    version = str(evidence.recorded.get("feature_service_version") or "")
    if not service:
        statuses.append(FAIL)
        lines.append("the champion's manifest names no feature service")
    elif evidence.registry_services is None:
        statuses.append(FAIL)
        lines.append("the Feast registry could not be read")
    elif service not in evidence.registry_services:
        statuses.append(FAIL)
        lines.append(
            f"feature service {service} (version {version or '?'}) of the champion is not in the "
            f"Feast registry (it holds {sorted(evidence.registry_services) or 'none'})"
        )
    else:
        lines.append(f"feature service {service} (version {version or '?'}) is in the registry")
    if evidence.bento is None:
        statuses.append(FAIL)
        lines.append("no bento of the champion: its served contract cannot be compared")
    elif evidence.trained_columns is None:
        statuses.append(FAIL)
        lines.append("the champion's MLflow model has no input signature to compare with")
    elif not evidence.bento.contract_columns:
        statuses.append(FAIL)
        lines.append(f"bento {evidence.bento.tag} carries no contract")
    else:
        served, trained = dict(evidence.bento.contract_columns), dict(evidence.trained_columns)
        differences = [
            f"{name}: trained {trained.get(name, 'absent')}, served {served.get(name, 'absent')}"
            for name in sorted(set(served) | set(trained))
            if served.get(name) != trained.get(name)
        ]
        if differences:
            statuses.append(FAIL)
            lines.append(
                f"the contract in bento {evidence.bento.tag} differs from the trained one:"
            )
            lines += differences
        else:
            lines.append(
                f"the contract in bento {evidence.bento.tag} equals the trained one "
                f"({len(served)} columns, names and types)"
            )
    return Verdict(worst(*statuses), lines)


def config(evidence: Evidence) -> Verdict:
    """The champion's run config is recorded, hashes as recorded, and reloads into its class."""
    if missing := no_champion(evidence):
        return missing
    recorded = evidence.recorded.get("config")
    if not recorded:
        return Verdict(FAIL, ["the champion's manifest records no config"])
    lines = [f"config recorded: {', '.join(sorted(recorded))}"]
    if config_hash(recorded) != evidence.recorded.get("config_hash"):
        return Verdict(FAIL, [*lines, "its hash is not the recorded config_hash: it was altered"])
    lines.append(f"hashes to the recorded config_hash {evidence.recorded['config_hash']}")
    if evidence.config_error is None:
        return Verdict(WARN, [*lines, "not reloaded into the project's config class"])
    if evidence.config_error:
        return Verdict(FAIL, [*lines, f"does not reload: {evidence.config_error}"])
    return Verdict(PASS, [*lines, "reloads into the project's TrainingConfig"])


def reproducibility(evidence: Evidence) -> Verdict:
    """A recorded reproduction of the champion matched (WARN: never reproduced)."""
    if missing := no_champion(evidence):
        return missing
    holes = [key for key in MANIFEST_KEYS if not evidence.recorded.get(key)]
    if holes:
        return Verdict(FAIL, [f"the champion's manifest lacks {holes}: nothing to reproduce from"])
    lines = ["the manifest records commit, data hashes, config and lock hashes"]
    lost = evidence.unrecoverable_data()
    if lost:
        return Verdict(
            FAIL,
            [
                *lines,
                *(f"cannot be reproduced: {v.name} (md5 {v.md5}) is stored nowhere" for v in lost),
            ],
        )
    if evidence.reproductions is None:
        return Verdict(WARN, [*lines, "the reproductions could not be read", *evidence.notes])
    if not evidence.reproductions:
        return Verdict(WARN, [*lines, f"never reproduced: `twelve reproduce {evidence.run_id}`"])
    latest = evidence.reproductions[0]
    if latest.verdict == "match":
        return Verdict(PASS, [*lines, f"reproduction {latest.run_id} of the champion matched"])
    difference = f": {latest.first_difference}" if latest.first_difference else ""
    return Verdict(
        FAIL, [*lines, f"reproduction {latest.run_id} did NOT match ({latest.verdict}){difference}"]
    )


def testing(evidence: Evidence) -> Verdict:
    """The project's tests passed on the champion's commit, with a served-vs-offline parity."""
    if missing := no_champion(evidence):
        return missing
    commit = evidence.commit[:12]
    record = evidence.tests
    if record is None:
        return Verdict(WARN, [f"no test record on the champion's commit {commit}: never recorded"])
    lines, statuses = [], []
    if record.failed:
        statuses.append(FAIL)
        lines.append(f"{len(record.failed)} test(s) failed on {commit}: {', '.join(record.failed)}")
    if not record.passed:
        statuses.append(FAIL)
    lines.append(f"{record.passed} of the project's tests passed on commit {commit}")
    if record.dirty:
        statuses.append(WARN)
        lines.append("they ran on a work tree with uncommitted changes")
    checks = record.passing_parity()
    if not checks:
        statuses.append(FAIL)
        lines.append(
            "no passing test compared served and offline predictions (the `parity` fixture "
            "recorded nothing): parity is not tested"
        )
    for check in checks:
        lines.append(
            f"parity {check.test}: {check.rows} served rows equal the offline answers "
            f"(max |diff| {check.max_abs_difference:.2g} <= {check.tolerance:.0e})"
        )
    return Verdict(worst(*statuses), lines)


def drift(evidence: Evidence) -> Verdict:
    """A drift check ran on the newest data version, and the retraining sensor was evaluated."""
    checks, arrival, ticks = evidence.drift_checks, evidence.newest_arrival, evidence.sensor_ticks
    if checks is None or ticks is None:
        return Verdict(FAIL, ["the Dagster instance could not be read", *evidence.notes])
    lines, statuses = [], []
    evaluated = sum(ticks.values()) + evidence.sensor_runs
    requested = ticks.get("SUCCESS", 0) + evidence.sensor_runs
    if arrival is None:
        statuses.append(WARN)
        lines.append("no data version has arrived (no materialized arrival asset)")
    newest = [c for c in checks if arrival and c.month == arrival.month]
    newest = [c for c in newest if arrival and c.timestamp >= arrival.timestamp]
    if arrival and newest:
        lines.append(
            f"drift check of {arrival.month} (newest data version "
            f"{arrival.data_version[:12]}): {newest[0].verdict}"
        )
    elif arrival:
        statuses.append(WARN)
        lines.append(
            f"no drift check ran on the newest data version ({arrival.asset} {arrival.month}, "
            f"{arrival.data_version[:12]}); {len(checks)} drift check(s) in all"
        )
    drifted = [c for c in checks if c.verdict == "drift"]
    if not evaluated:
        statuses.append(WARN)
        lines.append(f"the retraining sensor {SENSOR} has never been evaluated")
    else:
        lines.append(
            f"sensor {SENSOR}: {sum(ticks.values())} tick(s) {dict(sorted(ticks.items()))}, "
            f"{evidence.sensor_runs} run(s) launched"
        )
    if drifted and evaluated and not requested:
        statuses.append(FAIL)
        lines.append(
            f"drift found in {', '.join(c.month for c in drifted)} but the sensor never "
            "requested a run: it skips whatever it sees"
        )
    return Verdict(worst(*statuses), lines)


def tracking(evidence: Evidence) -> Verdict:
    """The champion's run has params, metrics, its manifest and the manifest tags in MLflow."""
    if missing := no_champion(evidence):
        return missing
    checks = {
        "params": bool(evidence.params),
        "metrics": bool(evidence.metrics),
        "manifest.json artifact": "manifest.json" in evidence.artifacts,
        "twelve.* manifest tags": any(key.startswith("twelve.") for key in evidence.tags),
    }
    lines = [f"champion v{evidence.champion_version}: run {evidence.run_id}"]
    lines += [f"{what}: {'yes' if ok else 'MISSING'}" for what, ok in checks.items()]
    plots = [name for name in evidence.artifacts if name.startswith("plots")]
    lines.append(f"plots logged: {'yes' if plots else 'no'}")
    return Verdict(PASS if all(checks.values()) else FAIL, lines)


def reports(evidence: Evidence) -> Verdict:
    """The champion's training set has a stored profile and an HTML report."""
    if missing := no_champion(evidence):
        return missing
    md5 = evidence.recorded.get("training_set_md5")
    if not (evidence.training_set_profiled and evidence.training_set_report):
        return Verdict(
            FAIL,
            [
                f"the champion's training set {md5} has "
                f"{'a profile' if evidence.training_set_profiled else 'no profile'} and "
                f"{'a report' if evidence.training_set_report else 'no report'}"
            ],
        )
    return Verdict(PASS, [f"training set {md5}: whylogs profile and HTML report stored"])


def comparability(evidence: Evidence) -> Verdict:
    """Every pipeline's latest model was scored on the champion's versioned holdout."""
    if missing := no_champion(evidence):
        return missing
    holdout = evidence.recorded.get("holdout_md5")
    others = {p: h for p, h in evidence.holdouts_by_pipeline.items() if h != holdout}
    lines = [f"champion scored on holdout {holdout}"]
    if others:
        return Verdict(FAIL, [*lines, f"pipelines scored on other holdouts: {others}"])
    pipelines = sorted(evidence.holdouts_by_pipeline)
    return Verdict(PASS, [*lines, f"latest runs of {pipelines} scored on the same holdout"])


RULES: dict[str, Callable[[Evidence], Verdict]] = {
    "versioning": versioning,
    "features": features,
    "config": config,
    "reproducibility": reproducibility,
    "testing": testing,
    "drift": drift,
    "tracking": tracking,
    "reports": reports,
    "skew": skew,
    "comparability": comparability,
    "monitoring": monitoring,
    "deployability": deployability,
}


def score(evidence: Evidence) -> Scorecard:
    """The scorecard (pure): every factor's rule applied to the evidence."""
    rows = []
    for number, key, title in FACTORS:
        verdict = RULES[key](evidence)
        rows.append(Row(number, key, title, verdict.status, verdict.evidence))
    return Scorecard(project=evidence.project, rows=rows, notes=list(evidence.notes))
