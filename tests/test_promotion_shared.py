"""One promotion rule for every project: flight_delays and a project made by ``twelve new`` both
decide with the library's ``twelve.training.promotion.decide``, so changing it changes both
decisions alike (the issue "One platform, many projects").

Each project's own ``model_alias`` asset (from its code location's ``defs/``) is materialized on
the same evaluation facts, in a throw-away environment with a real MLflow registry: first with the
library's rule, then with the rule changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from twelve.core.location import load_project_defs
from twelve.core.paths import REPO_ROOT
from twelve.core.project import Project
from twelve.core.resources import project_resources
from twelve.scaffold import generate as scaffold
from twelve.testing import make_twelve_env
from twelve.training import promotion

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A classification project made by `twelve new` in a temporary monorepo (dbt parsed)."""
    root = tmp_path_factory.mktemp("monorepo")
    for relative in ("infra/workspace.yaml", "feature_repo/.feastignore", "pyproject.toml"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / relative, root / relative)
    with pytest.MonkeyPatch.context() as monkeypatch:
        make_twelve_env(root / "parse", monkeypatch)  # dbt parse writes nothing of ours
        scaffold.generate(scaffold.ProjectOptions(name="renewals"), root, lock=False)
    return root / "projects" / "renewals" / "src" / "renewals" / "definitions.py"


def _alias(definitions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Materialize the project's model_alias on a fresh evaluation of version 1: its metadata."""
    make_twelve_env(tmp_path, monkeypatch)
    project_resources.cache_clear()
    defs = load_project_defs(definitions)
    project = Project.load(definitions.parents[2])
    mlflow = project_resources(project)["mlflow"]
    client = mlflow.client()
    client.create_registered_model(project.registered_model)
    client.create_model_version(project.registered_model, source=str(tmp_path))
    score, baseline = (0.71, 0.5) if project.higher_is_better else (5.0, 8.0)
    facts = {
        "registered_model": project.registered_model,
        "model_version": "1",
        "metric": project.metric,
        "required_score": 0.6 if project.higher_is_better else 7.0,
        "candidate_metrics": json.dumps({project.metric: score}),
        "baseline_metrics": json.dumps({project.metric: baseline}),
        "champion_version": "none",
    }
    instance = dg.DagsterInstance.get()
    evaluation = project.key("model_evaluation")
    instance.report_runless_asset_event(dg.AssetMaterialization(evaluation, metadata=facts))
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, asset_selection=[project.key("model_alias")], raise_on_error=False
    )
    project_resources.cache_clear()
    if not result.success:
        failure = next(e for e in result.all_events if e.is_step_failure)
        return {"failed": failure.step_failure_data.error.message}
    event = instance.get_latest_materialization_event(project.key("model_alias"))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.fixture(params=["flight_delays", "generated"])
def definitions(request, generated) -> Path:
    if request.param == "generated":
        return generated
    return REPO_ROOT / "projects/flight_delays/src/flight_delays/definitions.py"


def test_both_projects_decide_with_the_librarys_rule(definitions, tmp_path, monkeypatch):
    decided = _alias(definitions, tmp_path, monkeypatch)
    assert (decided["alias"], decided["decision"]) == ("champion", "first champion")


def test_a_change_to_the_librarys_rule_changes_both_decisions(definitions, tmp_path, monkeypatch):
    def stricter(metric, evaluated, current_champion, margin):
        return promotion.Promotion(None, "refused", "the library's rule was changed", ())

    monkeypatch.setattr(promotion, "decide", stricter)
    decided = _alias(definitions, tmp_path, monkeypatch)
    assert "the library's rule was changed" in decided["failed"]
