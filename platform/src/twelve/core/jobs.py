"""The five jobs every project gets, selected by the role tags of its assets (``twelve.core.tags``).

- ``monthly_arrival`` (partitioned): a month arrives: the raw sources that arrive monthly and
  what documents them (their profiles).
- ``golden_path``: everything else that is made once per change, from the raw sources to the
  deployable artifact: not the arrivals, not the monthly checks, not the serving window.
- ``drift_check`` (partitioned): after a month arrived, what the monthly checks read is refreshed
  (everything upstream of them but the raw sources), then the month is judged.
- ``retraining``: everything downstream of the training set but the monthly checks (holdout,
  every pipeline, gate, aliases, leaderboard, reference profile, bento).
- ``serving_window``: the served traffic judged against the training data.

Names never appear here: a project's assets are selected by the role its blocks tag them with,
so a second project (with an asset prefix, its own sources and pipelines) gets the same jobs.

Two blocks define them: this module's ``Jobs`` (``defs/jobs/defs.yaml``) the two a person or
``twelve run`` launches, ``monthly_arrival`` and ``golden_path``; the continuous-training block
(``twelve.monitoring.component.ContinuousTraining``) the three its sensor and schedule start, with
them: Dagster copies the definitions of each block when it loads a ``defs/`` folder, so a sensor
and the job it targets must come from the same block to stay one job::

    type: twelve.core.jobs.Jobs
"""

from __future__ import annotations

import dagster as dg

from twelve.core import tags

MONTHLY_ARRIVAL = "monthly_arrival"
GOLDEN_PATH = "golden_path"
DRIFT_CHECK = "drift_check"
RETRAINING = "retraining"
SERVING_WINDOW = "serving_window"
JOB_NAMES = (MONTHLY_ARRIVAL, GOLDEN_PATH, DRIFT_CHECK, RETRAINING, SERVING_WINDOW)


def by_role(role: str) -> dg.AssetSelection:
    """The assets tagged with ``role`` (``twelve/role``)."""
    return dg.AssetSelection.tag(tags.ROLE, role)


def selections() -> dict[str, dg.AssetSelection]:
    """Each job's asset selection, by role (pure: nothing is resolved until the graph is built)."""
    arrivals = by_role(tags.ARRIVAL)
    checks = by_role(tags.MONTHLY_CHECK)
    serving = by_role(tags.SERVING_WINDOW)
    training_set = by_role(tags.TRAINING_SET)
    # What the checks read, refreshed inside the partitioned run (Dagster materializes the
    # unpartitioned ones once): the month's rows must be in the training set before it is judged.
    # The raw sources (the roots) are not re-read: the arrival brought them.
    checked_inputs = checks.upstream()
    return {
        MONTHLY_ARRIVAL: arrivals,
        # The serving window needs traffic served by the bento the path ends with; the monthly
        # checks are partitioned and judge against the model this path makes.
        GOLDEN_PATH: dg.AssetSelection.all() - arrivals - checks - serving,
        DRIFT_CHECK: checked_inputs - checked_inputs.roots() - arrivals,
        RETRAINING: training_set.downstream() - training_set - checks,
        SERVING_WINDOW: serving,
    }


DESCRIPTIONS = {
    MONTHLY_ARRIVAL: "A month arrives: its raw data (a new DVC version), then its profile and "
    "data report.",
    GOLDEN_PATH: "From the raw sources to the deployable model: features, training set, every "
    "pipeline's model, the gate and the aliases, the leaderboard, the reference profile, the "
    "bento (stale assets only when run by `twelve run`).",
    DRIFT_CHECK: "After a month arrived: the features and the training set are refreshed, then "
    "that month is judged: its drift against the champion's training data and the champion's "
    "performance on its labels. The retraining sensor requests it per new raw data version.",
    RETRAINING: "Retrain on the current training set: holdout -> every pipeline -> gate and "
    "aliases (champion only when better by the margin) -> leaderboard, reference profile -> "
    "bento. The retraining sensor requests it per batch of evidence.",
    SERVING_WINDOW: "Judge the newest serving traffic against the served model's training data "
    "(scheduled hourly, read by the retraining sensor).",
}


def job(name: str) -> dg.UnresolvedAssetJobDefinition:
    """One of the five jobs (a new object: the block that defines it calls this once)."""
    return dg.define_asset_job(name, selection=selections()[name], description=DESCRIPTIONS[name])


class Jobs(dg.Component, dg.Model, dg.Resolvable):
    """The jobs a person launches: ``monthly_arrival`` and ``golden_path`` (by role tags)."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """``monthly_arrival`` and ``golden_path``."""
        return dg.Definitions(jobs=[job(MONTHLY_ARRIVAL), job(GOLDEN_PATH)])
