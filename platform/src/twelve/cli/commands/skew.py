"""``twelve skew``: training-serving skew of a served model, as a table and an HTML report.

Merges the serving input profiles a bento wrote (``<TWELVE_HOME>/serving_profiles/<model
version>/``) and compares every model input feature with the training reference profile of that
model version (``twelve.monitoring.skew``). The same report as the ``serving_skew`` asset, without
Dagster.
Exit codes: 0 compared (1 with ``--fail-on-drift`` when a feature drifted), 2 nothing to compare.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("twelve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twelve skew`` to the CLI."""
    parser = subparsers.add_parser(
        "skew",
        help="training-serving skew of a served model version (per-feature drift, HTML report)",
        description=(
            "Compare the serving input profiles of a model version with the training set "
            "profile it was fitted on: per feature a Hellinger distance, a KS or chi-squared "
            "test (Holm-adjusted) and a verdict. Writes a self-contained HTML report."
        ),
    )
    parser.add_argument(
        "--model-version",
        help="serving profile folder (BentoML model version, e.g. v3-0123456789ab); "
        "default: the one served most recently",
    )
    parser.add_argument(
        "--since", help="only profiles written at or after this ISO time (UTC if no offset)"
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate")
    parser.add_argument(
        "--warn-distance", type=float, default=0.1, help="Hellinger distance of a warning"
    )
    parser.add_argument(
        "--drift-distance", type=float, default=0.2, help="Hellinger distance of drift"
    )
    parser.add_argument("--min-rows", type=int, default=30, help="rows needed per side")
    parser.add_argument(
        "--exclude",
        default="",
        help="comma-separated features left out (e.g. month, a calendar feature)",
    )
    parser.add_argument("--out", type=Path, help="HTML report path (default under TWELVE_HOME)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when a feature is judged drift"
    )
    parser.set_defaults(func=run)


def _since(text: str | None) -> datetime | None:
    from twelve.cli.main import UsageError

    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"--since {text!r} is not an ISO date or time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    """Compare, write the report, print the per-feature verdicts."""
    from twelve.core import environment

    environment.prepare()
    from twelve.cli.main import EXIT_FAILED, EXIT_OK, UsageError
    from twelve.monitoring import drift, skew, skew_report

    try:
        thresholds = drift.DriftThresholds(
            alpha=args.alpha,
            warn_distance=args.warn_distance,
            drift_distance=args.drift_distance,
            min_rows=args.min_rows,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    try:
        report = skew.run_skew(
            model_version=args.model_version,
            since=_since(args.since),
            thresholds=thresholds,
            output=args.out,
            exclude=[name.strip() for name in args.exclude.split(",") if name.strip()],
        )
    except skew.SkewError as error:
        raise UsageError(str(error)) from error
    if args.json:
        body = {
            "model_version": report.model_version,
            "rows": report.rows,
            "report": str(report.report),
            "verdicts": report.verdicts,
            "results": [r.to_dict() for r in report.results],
        }
        sys.stdout.write(json.dumps(body, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(skew_report.results_markdown(report.results) + "\n")
    log.info(
        "%s: %d serving rows, verdicts %s; report %s",
        report.model_version,
        report.rows,
        report.verdicts,
        report.report,
    )
    if args.fail_on_drift and report.drifted:
        log.error("drift in %s", ", ".join(report.drifted))
        return EXIT_FAILED
    return EXIT_OK
