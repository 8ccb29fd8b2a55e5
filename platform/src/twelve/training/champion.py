"""The champion: the registered version the bento serves, and the months it was trained on.

The monthly checks judge an arriving month against the champion (factor 6): its drift against the
rows the champion was fitted on, and the champion's performance on the month's labels. Both read
the training window from the champion's MLflow run (``train_first_month``/``train_last_month``,
logged by the training block's ``trained_model``), so a retraining on more months moves the
reference with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from twelve.training.promotion import CHAMPION
from twelve.training.tracking import MlflowResource


@dataclass(frozen=True)
class Champion:
    """The version holding the ``champion`` alias and its training window.

    Attributes:
        registered_model: the MLflow registered model (the default pipeline's).
        version: the version holding ``champion``.
        run_id: the MLflow run that trained it.
        first_month: first training month ('YYYY-MM').
        last_month: last training month.
        holdout_months: the months it was evaluated on (comma separated).
        holdout_roc_auc: its ROC AUC on that holdout (None when not logged).
    """

    registered_model: str
    version: str
    run_id: str
    first_month: str
    last_month: str
    holdout_months: str
    holdout_roc_auc: float | None

    @property
    def label(self) -> str:
        """``<registered model> v<version>``."""
        return f"{self.registered_model} v{self.version}"

    def trained_on(self, month: str) -> bool:
        """Whether ``month`` ('YYYY-MM') is inside the training window."""
        return self.first_month <= month <= self.last_month

    def months(self) -> list[str]:
        """Every month of the training window, oldest first."""
        from twelve.training import modeling

        return list(modeling.months_between(self.first_month, self.last_month))


def champion_from_run(
    registered_model: str, version: str, run_id: str, params: dict, metrics: dict
) -> Champion:
    """A :class:`Champion` from its training run's params and metrics (pure).

    Raises:
        ValueError: the run lacks the training window params (not made by ``trained_model``).
    """
    missing = [key for key in ("train_first_month", "train_last_month") if key not in params]
    if missing:
        raise ValueError(
            f"{registered_model} v{version}: its MLflow run {run_id} has no param(s) {missing}; "
            "was it trained by the trained_model asset?"
        )
    roc_auc = metrics.get("roc_auc")
    return Champion(
        registered_model=registered_model,
        version=str(version),
        run_id=run_id,
        first_month=str(params["train_first_month"]),
        last_month=str(params["train_last_month"]),
        holdout_months=str(params.get("holdout_months", "")),
        holdout_roc_auc=None if roc_auc is None else float(roc_auc),
    )


def current_champion(mlflow: MlflowResource, registered_model: str) -> Champion | None:
    """The champion of ``registered_model`` (a project's first pipeline's), None if none yet.

    Raises:
        twelve.training.tracking.MlflowUnavailableError: the tracking store does not answer.
    """
    name = registered_model
    mlflow.ensure_available()
    holder = mlflow.version_by_alias(name, CHAMPION)
    if holder is None:
        return None
    run = mlflow.client().get_run(holder.run_id)
    return champion_from_run(name, holder.version, holder.run_id, run.data.params, run.data.metrics)
