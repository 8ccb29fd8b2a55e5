"""Score a project against the twelve factors from evidence: ``twelve audit PROJECT``.

Three steps, each its own module:

1. :func:`twelve.proof.gather.gather` reads the run state of the project's champion into a plain
   :class:`~twelve.proof.evidence.Evidence` (MLflow, DVC, the Feast registry, BentoML's store, the
   Dagster instance, the test records, the reproductions, the profile and report stores);
2. :func:`twelve.proof.rules.score` judges it, one pure rule per factor: a factor passes on
   evidence that its mechanism ran on the champion, never on a file existing or a word appearing;
3. :func:`twelve.proof.audit_page.write_page` writes the evidence as a self-contained HTML page.

``audit(project_dir)`` does the first two and returns the :class:`Scorecard`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from twelve.proof.evidence import Evidence
from twelve.proof.gather import documented, gather
from twelve.proof.rules import RULES, score
from twelve.proof.scorecard import FACTORS, FAIL, PASS, WARN, Row, Scorecard, Verdict

log = logging.getLogger(__name__)

__all__ = [
    "FACTORS",
    "FAIL",
    "PASS",
    "RULES",
    "WARN",
    "CannotAudit",
    "Evidence",
    "Row",
    "Scorecard",
    "Verdict",
    "audit",
    "documented",
    "gather",
    "score",
]


class CannotAudit(RuntimeError):
    """There is nothing to audit: not a project, or its tracking store cannot be reached."""


def audit(project_dir: str | Path, stores: dict[str, Any] | None = None) -> Scorecard:
    """Gather the evidence of the project at ``project_dir`` and score it.

    Args:
        project_dir: the project's folder (holding its ``pyproject.toml`` with ``[tool.twelve]``).
        stores: its resources (default: the ones its ``defs/`` resolve).

    Returns:
        The ``Scorecard``.

    Raises:
        CannotAudit: not a project, or its MLflow store cannot be reached.
    """
    from twelve.core.project import Project, ProjectError

    try:
        project = Project.load(project_dir)
    except ProjectError as error:
        raise CannotAudit(str(error)) from error
    log.info("auditing %s: gathering the run state of its champion", project.name)
    from mlflow.exceptions import MlflowException

    try:
        evidence = gather(project, stores)
    except ProjectError as error:  # production profile without its settings, for one
        raise CannotAudit(str(error)) from error
    except MlflowException as error:  # no tracking store: no champion to find, nothing to judge
        raise CannotAudit(f"the MLflow store of {project.name} cannot be read: {error}") from error
    return score(evidence)
