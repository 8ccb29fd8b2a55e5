"""``twelve serve NAME --check``: serve a bento for real, score its version's holdout, compare.

The bento is started with ``bentoml serve`` (``twelve.deploy.bento_server``), sent the holdout its
model version was evaluated on (restored from DVC by the md5 its run recorded), and its answers
are compared row by row with the registered model's offline predictions of the same rows
(``twelve.proof.testing_evidence.check_parity``). The served rows are profiled by the bento as
any traffic is, which is the evidence ``twelve audit`` reads for skew and monitoring.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from twelve.core.project import Project
from twelve.proof.testing_evidence import ParityCheck, check_parity

log = logging.getLogger(__name__)
HOLDOUT_TAG = "twelve.holdout_md5"


@dataclass(frozen=True)
class ServedCheck:
    """What ``--check`` found: the bento, the rows sent and the parity evidence."""

    bento_tag: str
    registered_model: str
    version: str
    parity: ParityCheck


def offline_answers(
    project: Project, registered_model: str, version: str, stores: Mapping[str, Any]
) -> tuple[pd.DataFrame, list[float]]:
    """The holdout of a model version (request rows) and the registered model's answers to it.

    Raises:
        ValueError: the version's run recorded no holdout md5.
    """
    from twelve.training import modeling
    from twelve.training.scoring import Scoring

    mlflow, dvc = stores["mlflow"], stores["dvc"]
    model_version = mlflow.client().get_model_version(registered_model, version)
    run = mlflow.client().get_run(model_version.run_id)
    md5 = run.data.tags.get(HOLDOUT_TAG)
    if not md5:
        raise ValueError(
            f"{registered_model} v{version}: its run {model_version.run_id} recorded no "
            f"{HOLDOUT_TAG}; was it trained by the platform's training block?"
        )
    holdout = pd.read_parquet(io.BytesIO(dvc.read_version(md5)))
    contract = project.contract
    model = mlflow.load_sklearn_model(registered_model, version)
    features = modeling.model_input(holdout, contract.numeric_columns, contract.categorical_columns)
    return holdout, list(Scoring(project.problem_type).predict(model, features))


def check_served(
    project: Project, bento_tag: str, registered_model: str, version: str, home: Path
) -> ServedCheck:
    """Serve ``bento_tag``, send it the version's holdout, compare with the offline answers.

    Raises:
        AssertionError: a served answer differs from the offline one (the worst row named).
        twelve.deploy.bento_server.BentoServerError: the server did not start or answer.
    """
    from twelve.core.resources import project_resources
    from twelve.deploy import bento_server

    stores = project_resources(project)
    holdout, offline = offline_answers(project, registered_model, version, stores)
    rows = bento_server.json_rows(holdout, project.contract.feature_columns)
    key = "probability" if project.problem_type == "classification" else "prediction"
    with (
        tempfile.TemporaryDirectory(prefix="twelve-serve-check-") as workdir,
        bento_server.serving(bento_tag, home, Path(workdir)) as server,
    ):
        log.info("serving %s on %s: sending %d holdout rows", bento_tag, server.url, len(rows))
        status, answer = server.post("/predict_features", {"rows": rows}, timeout=120)
        if status != 200:
            raise AssertionError(f"{bento_tag} answered {status}: {answer}")
        served = [row[key] for row in answer["predictions"]]
    parity = check_parity(project.name, f"twelve serve --check {bento_tag}", served, offline, 1e-9)
    return ServedCheck(bento_tag, registered_model, version, parity)
