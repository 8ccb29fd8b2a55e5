"""A project of the monorepo: what every block of it shares, read from its ``pyproject.toml``.

A project is a Dagster code location (``[tool.dg.project]``) whose blocks are configured in its
``defs/`` folder. What those blocks share is declared once, in ``[tool.twelve]``::

    [tool.twelve]
    problem_type = "classification"              # or "regression"
    contract = "flight_delays.contract:CONTRACT" # a twelve.features.contract.Contract
    feature_repo = "../../feature_repo"          # the Feast repo (relative to this file)
    feature_service = "flight_delay_v1"          # the versioned feature service the model reads
    bento = "../../bentos/flight_delay"          # the BentoML service folder
    registered_model = "flight_delays"           # the MLflow model the first pipeline adds to
    data_folder = ""                             # under TWELVE_DATA_DIR ("" = its root)
    asset_prefix = ""                            # of its asset keys (default: the project name)
    months = ["2013-01", "2013-12"]              # the months the data arrives in

Read when definitions are built (never at import), once per project root.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twelve.core import paths

if TYPE_CHECKING:
    import dagster as dg

    from twelve.features.contract import Contract

PROBLEM_TYPES = ("classification", "regression")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_REQUIRED = ("contract", "feature_repo", "feature_service", "bento", "months")


class ProjectError(ValueError):
    """A project's ``[tool.twelve]`` is missing or wrong; the message names the file and key."""


def load_object(reference: str) -> Any:
    """The object named ``"package.module:attribute"`` (imported now).

    Raises:
        ProjectError: the reference is malformed, or the module or attribute does not exist.
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ProjectError(f"{reference!r} is not 'module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ProjectError(f"{reference!r}: module {module_name!r} not found ({error})") from error
    try:
        return getattr(module, attribute)
    except AttributeError as error:
        raise ProjectError(f"{reference!r}: {module_name} has no {attribute!r}") from error


@dataclass(frozen=True)
class Project:
    """One ML project: its name, package, shared settings and where its files live.

    Attributes:
        name: Code location and project name (the MLflow experiment too).
        root: The project folder (holding ``pyproject.toml``).
        package: Its Python package.
        problem_type: ``classification`` or ``regression``.
        contract_ref: ``module:attribute`` of its :class:`~twelve.features.contract.Contract`.
        feature_repo: The Feast repository it registers and reads.
        feature_service: The versioned Feast feature service its model reads.
        bento_dir: Its BentoML service folder.
        registered_model: The MLflow registered model of its first (default) pipeline.
        data_folder: Its folder under ``TWELVE_DATA_DIR`` (empty: the root).
        asset_prefix: Prefix of its asset keys: asset keys are global to a Dagster instance, so
            two projects' ``training_set`` must differ (empty: no prefix).
        months: First and last month (``YYYY-MM``) its data arrives in.
    """

    name: str
    root: Path
    package: str
    problem_type: str
    contract_ref: str
    feature_repo: Path
    feature_service: str
    bento_dir: Path
    registered_model: str
    data_folder: str = ""
    asset_prefix: str = ""
    months: tuple[str, str] = ("", "")
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path_within: str | Path) -> Project:
        """The project whose ``pyproject.toml`` (with ``[tool.twelve]``) is at or above the path.

        Raises:
            ProjectError: no such file, or a key missing or invalid (named with the file).
        """
        start = Path(path_within).resolve()
        for folder in (start, *start.parents):
            candidate = folder / "pyproject.toml"
            if candidate.is_file() and "twelve" in _tool(candidate):
                return _load(candidate)
        raise ProjectError(f"no pyproject.toml with a [tool.twelve] table at or above {start}")

    @classmethod
    def of_package(cls, package: str) -> Project:
        """The project of an installed (or importable) package."""
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.origin:
            raise ProjectError(f"package {package!r} is not importable: is the project installed?")
        return cls.load(Path(spec.origin).parent)

    # ------------------------------------------------------------------ shared facts
    @property
    def contract(self) -> Contract:
        """The project's contract (imported on first use)."""
        if "contract" not in self._cache:
            from twelve.features.contract import Contract

            contract = load_object(self.contract_ref)
            if not isinstance(contract, Contract):
                raise ProjectError(
                    f"{self.root / 'pyproject.toml'}: [tool.twelve] contract {self.contract_ref!r} "
                    f"is a {type(contract).__name__}, not a twelve.features.contract.Contract"
                )
            self._cache["contract"] = contract
        return self._cache["contract"]

    @property
    def experiment(self) -> str:
        """The MLflow experiment of the project's training runs."""
        return self.name

    @property
    def higher_is_better(self) -> bool:
        """Whether the primary metric grows with quality (ROC AUC) or shrinks (RMSE)."""
        return self.problem_type == "classification"

    @property
    def metric(self) -> str:
        """The primary metric models of this project are ranked and gated by."""
        return "roc_auc" if self.problem_type == "classification" else "rmse"

    def partitions(self) -> dg.MonthlyPartitionsDefinition:
        """Monthly partitions over the project's months (the data arrives one month at a time)."""
        import dagster as dg
        import pandas as pd

        if "partitions" not in self._cache:
            first, last = (pd.Period(month, freq="M") for month in self.months)
            self._cache["partitions"] = dg.MonthlyPartitionsDefinition(
                start_date=f"{first}-01", end_date=f"{last + 1}-01"
            )
        return self._cache["partitions"]

    def key(self, name: str) -> dg.AssetKey:
        """The asset key of one of the project's assets (``<asset_prefix>/<name>``)."""
        import dagster as dg

        return dg.AssetKey([self.asset_prefix, name] if self.asset_prefix else [name])

    # ------------------------------------------------------------------ where files live
    def data_dir(self) -> Path:
        """``$TWELVE_DATA_DIR/<data_folder>``: the project's data (resolved when asked)."""
        folder = paths.data_dir() / self.data_folder if self.data_folder else paths.data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def raw_dir(self) -> Path:
        """Raw files, versioned with DVC."""
        return self.data_dir() / "raw"

    def features_dir(self) -> Path:
        """The feature tables dbt writes for Feast."""
        return self.data_dir() / "features"

    def training_set_path(self) -> Path:
        """The point-in-time training set."""
        return self.data_dir() / "training" / "training_set.parquet"

    def holdout_path(self) -> Path:
        """The versioned holdout every model is scored on."""
        return self.data_dir() / "training" / "holdout.parquet"

    def dbt_dir(self) -> Path:
        """The project's dbt project."""
        return self.root / "dbt"


def _tool(pyproject: Path) -> dict[str, Any]:
    return tomllib.loads(pyproject.read_text()).get("tool", {})


@cache
def _load(pyproject: Path) -> Project:
    tool = _tool(pyproject)
    settings = tool["twelve"]
    where = f"{pyproject} [tool.twelve]"
    missing = [key for key in _REQUIRED if key not in settings]
    if missing:
        raise ProjectError(f"{where}: missing {missing}")
    dg_project = tool.get("dg", {}).get("project", {})
    package = dg_project.get("root_module")
    if not package:
        raise ProjectError(f"{pyproject}: [tool.dg.project] root_module is missing")
    name = dg_project.get("code_location_name") or package
    problem_type = settings.get("problem_type", "classification")
    if problem_type not in PROBLEM_TYPES:
        raise ProjectError(f"{where}: problem_type {problem_type!r} is not one of {PROBLEM_TYPES}")
    months = tuple(settings["months"])
    if len(months) != 2 or not all(_MONTH.match(str(m)) for m in months) or months[1] < months[0]:
        raise ProjectError(f"{where}: months must be [first, last] as YYYY-MM, got {months}")
    root = pyproject.parent
    folders = {key: (root / settings[key]).resolve() for key in ("feature_repo", "bento")}
    for key, folder in folders.items():
        if not folder.is_dir():
            raise ProjectError(f"{where}: {key} {settings[key]!r} is not a folder ({folder})")
    return Project(
        name=name,
        root=root,
        package=package,
        problem_type=problem_type,
        contract_ref=settings["contract"],
        feature_repo=folders["feature_repo"],
        feature_service=settings["feature_service"],
        bento_dir=folders["bento"],
        registered_model=settings.get("registered_model", name),
        data_folder=settings.get("data_folder", ""),
        asset_prefix=settings.get("asset_prefix", name),
        months=(str(months[0]), str(months[1])),
    )
