"""Score a project against the twelve factors: one row per factor, pass / warn / fail, evidence.

Two kinds of evidence:

- **static**, read from the files of the monorepo and the project (lock file, conf, code, tests,
  Feast repo, bento service): ``gather_files``;
- **run state**, read from the stores (the latest training run and its manifest, the DVC store,
  the profile and report stores, the leaderboard's holdouts, the reproductions, the bentos):
  ``gather_state``.

``score`` is pure: files and state in, scorecard out, so each rule is tested on fixture projects
that break exactly one factor. A mechanism that is not built is never scored ``pass``: the row
fails and says what is missing.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

PASS, WARN, FAIL = "pass", "warn", "fail"
FACTORS = (
    (1, "versioning", "Versioning of code and data"),
    (2, "features", "Explicit feature dependencies"),
    (3, "config", "Descriptive code, config apart"),
    (4, "reproducibility", "Reproducible training"),
    (5, "testing", "Testing"),
    (6, "drift", "Drift and continuous training"),
    (7, "tracking", "Experiment tracking"),
    (8, "reports", "Experiments in pipelines (a report per data version)"),
    (9, "skew", "Training-serving skew"),
    (10, "comparability", "Comparability"),
    (11, "monitoring", "Monitoring"),
    (12, "deployability", "Deployability"),
)
# A literal date or month in asset code is a split or a window that belongs in config.
_LITERAL_DATE = re.compile(r"""["']\d{4}-(0[1-9]|1[0-2])(-\d{2})?["']""")
_MANIFEST_KEYS = ("git_commit", "training_set_md5", "holdout_md5", "config_hash", "uv_lock_sha256")


@dataclass(frozen=True)
class Row:
    """One factor's verdict."""

    number: int
    key: str
    title: str
    status: str
    evidence: list[str]


@dataclass
class Scorecard:
    """The twelve rows of a project."""

    project: str
    rows: list[Row]

    @property
    def failed(self) -> list[Row]:
        """The failing rows."""
        return [row for row in self.rows if row.status == FAIL]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with a count per status."""
        counts = {
            status: sum(r.status == status for r in self.rows) for status in (PASS, WARN, FAIL)
        }
        return {"project": self.project, "counts": counts, "rows": [asdict(r) for r in self.rows]}

    def text(self) -> str:
        """The scorecard as text: one line per factor, its evidence indented below."""
        lines = [f"twelve-factor audit of {self.project}"]
        for row in self.rows:
            lines.append(f"{row.number:>2}. [{row.status.upper():4}] {row.title}")
            lines += [f"      - {item}" for item in row.evidence]
        counts = self.to_dict()["counts"]
        lines.append(f"{counts[PASS]} pass, {counts[WARN]} warn, {counts[FAIL]} fail")
        return "\n".join(lines)


# -------------------------------------------------------------------------------- static facts
@dataclass
class ProjectFiles:
    """What the files say. Paths in evidence are relative to the repository root."""

    repo_root: Path
    project_dir: Path
    package: str
    sources: dict[str, str] = field(default_factory=dict)  # src/<pkg>/**.py
    # src/<pkg>/defs/**/defs.yaml -> the component type of the library block it configures
    blocks: dict[str, str] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)  # project tests + the repo's tests
    conf: dict[str, Any] = field(default_factory=dict)  # conf/<name>.yaml -> content
    # A library block configured in defs/<area>/defs.yaml: its attributes are in `conf[area]`.
    blocks: dict[str, str] = field(default_factory=dict)  # defs/<area>/defs.yaml -> its type
    feature_repo: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)  # bentos/<name>/*.py, *.yaml
    has_lock: bool = False
    in_git: bool = False

    def rel(self, path: Path) -> str:
        """A path relative to the repository root, for evidence."""
        try:
            return path.relative_to(self.repo_root).as_posix()
        except ValueError:
            return str(path)


def _read_texts(folder: Path, pattern: str, root: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_text(errors="replace")
        for path in sorted(folder.rglob(pattern))
        if "__pycache__" not in path.parts
    }


def gather_files(project_dir: Path, repo_root: Path | None = None) -> ProjectFiles:
    """Read the project's and the repository's files the rules look at.

    Args:
        project_dir: ``projects/<name>`` (holding ``src/<package>``, ``conf``, ``tests``).
        repo_root: the monorepo root (default: two levels above the project).

    Returns:
        The ``ProjectFiles``.

    Raises:
        FileNotFoundError: not a project folder (no ``src/<package>``).
    """
    project_dir = Path(project_dir).resolve()
    repo_root = Path(repo_root).resolve() if repo_root else project_dir.parent.parent
    packages = sorted(p for p in (project_dir / "src").glob("*") if (p / "__init__.py").is_file())
    if not packages:
        raise FileNotFoundError(f"{project_dir} is not a project: no src/<package>/__init__.py")
    package = packages[0]
    files = ProjectFiles(repo_root=repo_root, project_dir=project_dir, package=package.name)
    files.sources = _read_texts(package, "*.py", repo_root)
    files.blocks = _blocks(package / "defs", repo_root)
    files.tests = {
        name: text
        for name, text in {
            **_read_texts(project_dir / "tests", "*.py", repo_root),
            **_read_texts(repo_root / "tests", "*.py", repo_root),
        }.items()
        # Fixture projects (such as the audit's own) are data for tests, not tests of this one.
        if "/fixtures/" not in f"/{name}"
    }
    for path in sorted((project_dir / "conf").glob("*.yaml")):
        files.conf[path.stem] = yaml.safe_load(path.read_text()) or {}
    for path in sorted((package / "defs").glob("*/defs.yaml")):
        block = yaml.safe_load(path.read_text()) or {}
        files.blocks[files.rel(path)] = str(block.get("type", ""))
        files.conf.setdefault(path.parent.name, block.get("attributes") or {})
    files.conf.setdefault("bento", _deployment_block(project_dir, package))
    files.feature_repo = _read_texts(repo_root / "feature_repo", "*.py", repo_root)
    files.services = {}
    for folder in project_bentos(repo_root / "bentos", package.name):
        files.services.update(_read_texts(folder, "*.py", repo_root))
        files.services.update(_read_texts(folder, "*.yaml", repo_root))
    files.has_lock = (repo_root / "uv.lock").is_file()
    files.in_git = any((folder / ".git").exists() for folder in (project_dir, *project_dir.parents))
    return files


def _blocks(defs_dir: Path, root: Path) -> dict[str, str]:
    """The library blocks a project configures: ``defs.yaml`` path -> component ``type``."""
    found = {}
    for name, text in _read_texts(defs_dir, "defs.yaml", root).items():
        for document in yaml.safe_load_all(text):
            if isinstance(document, dict) and document.get("type"):
                found[name] = str(document["type"])
    return found


def _deployment_block(project_dir: Path, package: Path) -> dict[str, Any]:
    """What a project's deployment block builds, in the shape of the older ``conf/bento.yaml``:
    the block (``defs/deployment/defs.yaml``) takes the registered model and the contract from
    ``[tool.twelve]`` of the project's ``pyproject.toml``.
    """
    import tomllib

    block = package / "defs" / "deployment" / "defs.yaml"
    pyproject = project_dir / "pyproject.toml"
    if not (block.is_file() and pyproject.is_file()):
        return {}
    settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("twelve", {})
    registered = settings.get("registered_model", package.name)
    return {"bento": {"registered_model": registered, "contract": settings.get("contract", "")}}


def project_bentos(bentos_dir: Path, package: str) -> list[Path]:
    """The service folders of a project: ``bentos/<package>``, or any whose bentofile says
    ``labels: {project: <package>}`` (``bentos/flight_delay`` of ``flight_delays``).

    Another project's bento is not evidence for this one.
    """
    if not bentos_dir.is_dir():
        return []
    found = []
    for folder in sorted(path for path in bentos_dir.iterdir() if path.is_dir()):
        bentofile = folder / "bentofile.yaml"
        labels = {}
        if bentofile.is_file():
            content = yaml.safe_load(bentofile.read_text()) or {}
            labels = (content.get("labels") or {}) if isinstance(content, dict) else {}
        if folder.name == package or labels.get("project") == package:
            found.append(folder)
    return found


# ----------------------------------------------------------------------------------- run state
@dataclass
class RunState:
    """What the stores say about the project's latest training (None/empty: nothing found)."""

    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    raw_inputs_in_dvc: dict[str, bool] = field(default_factory=dict)
    training_set_profiled: bool = False
    training_set_report: bool = False
    holdouts_by_pipeline: dict[str, str] = field(default_factory=dict)
    reproduction_verdict: str | None = None
    bento_tag: str | None = None
    bento_dockerfile: bool = False
    bento_model_tag: str | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- rules
def _defs_sources(files: ProjectFiles) -> dict[str, str]:
    return {name: text for name, text in files.sources.items() if "/defs/" in name}


def _uses_block(files: ProjectFiles, block_type: str) -> list[str]:
    """The defs.yaml files that configure the library block ``block_type``."""
    return [name for name, kind in files.blocks.items() if kind == block_type]


TRAINING_BLOCK = "twelve.training.component.Training"


def _mentions(texts: Mapping[str, str], pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [name for name, text in texts.items() if regex.search(text)]


def _rule_versioning(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    evidence, status = [], PASS
    if files.in_git:
        evidence.append("the project is in a git work tree")
    else:
        status = FAIL
        evidence.append("the project is not in a git repository: its code is not versioned")
    trackers = _mentions(_defs_sources(files), r"\bdvc\.track\(|DvcResource")
    trackers += _uses_block(files, "twelve.data.component.RawData")
    if trackers:
        evidence.append(f"assets version data with DVC: {', '.join(trackers)}")
    else:
        status = FAIL
        evidence.append("no asset versions its data with DVC (no DvcResource / dvc.track)")
    if not state.raw_inputs_in_dvc:
        return (FAIL if status == FAIL else WARN), [
            *evidence,
            "no raw input recorded by a training run yet",
        ]
    missing = sorted(name for name, ok in state.raw_inputs_in_dvc.items() if not ok)
    if missing:
        return FAIL, [*evidence, f"raw inputs of the latest run missing from DVC: {missing}"]
    evidence.append(f"all {len(state.raw_inputs_in_dvc)} raw inputs of the latest run are in DVC")
    return status, evidence


def _rule_features(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    evidence, status = [], PASS
    service = (files.conf.get("features", {}).get("features") or {}).get("feature_service")
    pyproject = files.project_dir / "pyproject.toml"
    if not service and pyproject.is_file():
        import tomllib

        tool = tomllib.loads(pyproject.read_text()).get("tool", {})
        service = tool.get("twelve", {}).get("feature_service")
    if not service:
        return FAIL, ["neither [tool.twelve] nor conf/features.yaml names a feature_service"]
    defined = [
        name
        for name, text in files.feature_repo.items()
        if "FeatureService(" in text and re.search(rf"""["']{re.escape(service)}["']""", text)
    ]
    if defined:
        evidence.append(f"feature service {service} defined in {', '.join(defined)}")
    else:
        status = FAIL
        evidence.append(f"feature service {service} is not defined in feature_repo/")
    contracts = [name for name in files.sources if name.endswith("/contract.py")]
    if contracts:
        evidence.append(f"feature contract: {', '.join(contracts)}")
    else:
        status = FAIL
        evidence.append("no contract module (src/<package>/contract.py)")
    serving = (files.conf.get("bento", {}).get("bento") or {}).get("contract", "")
    if serving.startswith(f"{files.package}."):
        evidence.append(f"the bento embeds the contract {serving} and validates inputs with it")
    else:
        status = FAIL
        evidence.append("conf/bento.yaml embeds no contract of this project in the bento")
    return status, evidence


def _rule_config(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    if not files.conf:
        return FAIL, ["no conf/*.yaml: configuration lives in code"]
    names = [
        f"conf/{n}.yaml"
        for n in sorted(files.conf)
        if (files.project_dir / "conf" / f"{n}.yaml").is_file()
    ]
    evidence = [f"config files: {', '.join([*names, *sorted(files.blocks)])}"]
    literals = []
    for name, text in _defs_sources(files).items():
        for number, line in enumerate(text.splitlines(), start=1):
            if _LITERAL_DATE.search(line) and not line.lstrip().startswith("#"):
                literals.append(f"{name}:{number}: {line.strip()}")
    if literals:
        return FAIL, [*evidence, "literal dates in asset code (move them to conf/):", *literals]
    evidence.append("no literal split date or month in asset code")
    return PASS, evidence


def _has_key(value: Any, key: str) -> bool:
    if isinstance(value, Mapping):
        return key in value or any(_has_key(item, key) for item in value.values())
    if isinstance(value, list):
        return any(_has_key(item, key) for item in value)
    return False


def _rule_reproducibility(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    evidence, status = [], PASS
    if files.has_lock:
        evidence.append("uv.lock pins every dependency")
    else:
        status = FAIL
        evidence.append("no uv.lock: the environment cannot be rebuilt")
    if _has_key(files.conf, "seed"):
        evidence.append("a seed is configured")
    else:
        status = FAIL
        evidence.append("no `seed` in conf/: training is not deterministic by configuration")
    if state.manifest is None:
        return FAIL, [*evidence, "the latest run has no manifest to reproduce it from"]
    holes = [key for key in _MANIFEST_KEYS if not state.manifest.get(key)]
    if holes:
        return FAIL, [*evidence, f"the latest run's manifest lacks {holes}"]
    evidence.append("the latest run's manifest records commit, data hashes, config and lock hashes")
    if state.manifest.get("git_dirty"):
        status = WARN if status == PASS else status
        evidence.append("the latest run was trained from uncommitted changes (git_dirty)")
    if state.reproduction_verdict == "mismatch":
        return FAIL, [*evidence, "its last `twelve reproduce` did NOT match"]
    if state.reproduction_verdict == "match":
        evidence.append("`twelve reproduce` of the latest run matched")
    else:
        evidence.append(f"not reproduced yet: `twelve reproduce {state.run_id}`")
    return status, evidence


def _tested_modules(files: ProjectFiles) -> list[str]:
    pure = [
        name.rsplit("/", 1)[-1].removesuffix(".py")
        for name in files.sources
        if "/defs/" not in name
        and not name.endswith(("__init__.py", "definitions.py", "paths.py", "resources.py"))
    ]
    tested = []
    for module in pure:
        pattern = re.compile(
            rf"from {files.package}(\.{module}\b| import [^\n]*\b{module}\b)|import "
            rf"{files.package}\.{module}\b"
        )
        if any(pattern.search(text) for text in files.tests.values()):
            tested.append(module)
    return sorted(tested)


def _rule_testing(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    project_tests = [n for n in files.tests if n.startswith(files.rel(files.project_dir))]
    if not project_tests:
        return FAIL, ["the project has no tests/"]
    evidence, status = [f"{len(project_tests)} project test file(s)"], PASS
    tested = _tested_modules(files)
    if tested:
        evidence.append(f"transforms under test: {', '.join(tested)}")
    else:
        status = FAIL
        evidence.append("no test imports a transform module of the package")
    # A test of the served model (its file serves one) that compares with the offline answers:
    # among the project's tests, or the repository's tests that name the project or its bento.
    names = {files.package, *(name.split("/")[1] for name in files.services)}
    parity = sorted(
        name
        for name, text in files.tests.items()
        if (name in project_tests or any(re.search(rf"\b{n}\b", text) for n in names))
        and re.search(r"serv", text)
        and re.search(r"def test_\w*(parity|offline)\w*\(", text)
    )
    if parity:
        evidence.append(f"served-vs-offline parity test: {', '.join(parity)}")
    else:
        status = FAIL
        evidence.append("no parity test (the served model gives the offline evaluation's answers)")
    return status, evidence


# The library's blocks that make factors 6 and 8 real when a project configures them (defs.yaml).
CONTINUOUS_TRAINING_BLOCK = "twelve.monitoring.component.ContinuousTraining"
DATA_REPORTS_BLOCK = "twelve.monitoring.component.DataReports"
DRIFT_SENSOR = "drift_retraining"


def _sensors(texts: Mapping[str, str]) -> list[tuple[str, str]]:
    """(file, function) of every function decorated as a Dagster sensor."""
    found = []
    for name, text in texts.items():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    label = ast.unparse(target)
                    if label.endswith(("sensor", "asset_sensor", "multi_asset_sensor")):
                        found.append((name, node.name, ast.get_source_segment(text, node) or ""))
    return [(name, function) for name, function, body in found if "drift" in body.lower()]


def _rule_drift(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    sensors = _sensors(files.sources) + [
        (f"{name} (block {kind})", DRIFT_SENSOR)
        for name, kind in files.blocks.items()
        if kind == CONTINUOUS_TRAINING_BLOCK
    ]
    if not sensors:
        return FAIL, [
            "no drift sensor: no Dagster sensor of the project compares profiles for drift "
            "and starts a retraining"
        ]
    return PASS, [f"drift sensor {function} in {name}" for name, function in sensors]


def _rule_tracking(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    if state.run_id is None:
        return FAIL, ["no finished training run in MLflow", *state.notes]
    evidence, status = [f"latest run {state.run_id}"], PASS
    checks = {
        "params": bool(state.params),
        "metrics": bool(state.metrics),
        "manifest.json artifact": "manifest.json" in state.artifacts,
        "twelve.* manifest tags": any(key.startswith("twelve.") for key in state.tags),
    }
    for what, ok in checks.items():
        if not ok:
            status = FAIL
        evidence.append(f"{what}: {'yes' if ok else 'MISSING'}")
    plots = [name for name in state.artifacts if name.startswith("plots")]
    evidence.append(f"plots logged: {'yes' if plots else 'no'}")
    return status, evidence


def _rule_reports(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    makers = _mentions(_defs_sources(files), r"ProfileStore|profile_frame|write_report|reports\.")
    makers += [name for name, kind in files.blocks.items() if kind == DATA_REPORTS_BLOCK]
    if not makers:
        return FAIL, ["no asset profiles data or writes a data report"]
    evidence = [f"profiles and reports made by {', '.join(makers)}"]
    md5 = (state.manifest or {}).get("training_set_md5")
    if not md5:
        return WARN, [*evidence, "no training run yet: no data version to look up"]
    if not (state.training_set_profiled and state.training_set_report):
        return FAIL, [
            *evidence,
            f"the latest run's training set {md5} has "
            f"{'a profile' if state.training_set_profiled else 'no profile'} and "
            f"{'a report' if state.training_set_report else 'no report'}",
        ]
    return PASS, [*evidence, f"training set {md5}: profile and HTML report stored"]


def _rule_skew(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    evidence, status = [], PASS
    # Anywhere in the package: the asset may call a model module that builds the pipeline.
    if _mentions(files.sources, r"\bbuild_pipeline\(") or _uses_block(files, TRAINING_BLOCK):
        evidence.append("the model is one scikit-learn Pipeline: fitted preprocessing inside")
    else:
        status = FAIL
        evidence.append(
            "the model does not carry its preprocessing (no twelve.training.modeling pipeline)"
        )
    services = sorted({name.split("/")[1] for name in files.services if name.count("/") >= 2})
    if services and _mentions(files.services, r"contract"):
        evidence.append(f"bento service(s) {services} load the model with its contract")
    else:
        status = FAIL
        evidence.append("no bento service loads the model with its contract")
    return status, evidence


def _rule_comparability(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    training = files.conf.get("training", {})
    pipelines = training.get("pipelines") or {}
    if "holdout" not in training:
        return FAIL, ["no `holdout:` in the training config: no shared, versioned holdout"]
    evidence = [f"{len(pipelines) or 1} pipeline(s) share one holdout: {sorted(pipelines)}"]
    if not (_mentions(_defs_sources(files), r"leaderboard") or _uses_block(files, TRAINING_BLOCK)):
        return FAIL, [*evidence, "no leaderboard asset"]
    evidence.append("a leaderboard asset ranks runs per holdout version")
    holdouts = set(state.holdouts_by_pipeline.values())
    if len(holdouts) > 1:
        return FAIL, [
            *evidence,
            f"the latest runs of the pipelines were scored on different holdouts: "
            f"{state.holdouts_by_pipeline}",
        ]
    if state.holdouts_by_pipeline:
        evidence.append(
            f"latest runs of {sorted(state.holdouts_by_pipeline)} scored on holdout "
            f"{next(iter(holdouts))}"
        )
    return PASS, evidence


def _rule_monitoring(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    services = files.services
    profiles = _mentions(services, r"whylogs|profile_frame|RollingProfile|profil")
    metrics = _mentions(services, r"/metrics|prometheus|Counter\(|Histogram\(")
    evidence = []
    status = PASS
    if profiles:
        evidence.append(f"served inputs/outputs profiled: {', '.join(sorted(profiles))}")
    else:
        status = FAIL
        evidence.append("the bento does not profile served inputs and outputs")
    if metrics:
        evidence.append(f"serving metrics exposed: {', '.join(sorted(metrics))}")
    else:
        status = FAIL
        evidence.append("the bento exposes no serving metrics (latency, CPU, memory)")
    return status, evidence


def _rule_deployability(files: ProjectFiles, state: RunState) -> tuple[str, list[str]]:
    if state.bento_model_tag is None:
        return FAIL, ["no model version holds an alias: nothing deployable", *state.notes]
    if state.bento_tag is None:
        return FAIL, [f"no bento embeds the latest aliased model {state.bento_model_tag}"]
    if not state.bento_dockerfile:
        return FAIL, [f"bento {state.bento_tag} has no container recipe (env/docker/Dockerfile)"]
    return PASS, [f"bento {state.bento_tag} embeds {state.bento_model_tag}, with its Dockerfile"]


RULES: dict[str, Callable[[ProjectFiles, RunState], tuple[str, list[str]]]] = {
    "versioning": _rule_versioning,
    "features": _rule_features,
    "config": _rule_config,
    "reproducibility": _rule_reproducibility,
    "testing": _rule_testing,
    "drift": _rule_drift,
    "tracking": _rule_tracking,
    "reports": _rule_reports,
    "skew": _rule_skew,
    "comparability": _rule_comparability,
    "monitoring": _rule_monitoring,
    "deployability": _rule_deployability,
}


def score(files: ProjectFiles, state: RunState) -> Scorecard:
    """The scorecard (pure): every factor's rule applied to the files and the run state."""
    rows = []
    for number, key, title in FACTORS:
        status, evidence = RULES[key](files, state)
        rows.append(Row(number, key, title, status, evidence))
    return Scorecard(project=files.package, rows=rows)


# ------------------------------------------------------------------------------ state gathering
def gather_state(files: ProjectFiles, experiment: str | None = None) -> RunState:
    """Read the run state of a project from its stores (MLflow, DVC, profiles, BentoML).

    Args:
        files: the project's files (its conf names the registered model of the bento).
        experiment: the MLflow experiment (default: the package name).

    Returns:
        The ``RunState``; what cannot be found is left empty and noted.
    """
    import mlflow

    from twelve.data.versioning import DataVersionNotFound, DvcResource
    from twelve.deploy.bento import BentoResource, bentoml_model_tag, latest_aliased_version
    from twelve.training.tracking import MlflowResource

    experiment = experiment or files.package
    resource = MlflowResource(experiment=experiment)
    state = RunState()
    client = resource.client()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        state.notes.append(f"MLflow experiment {experiment} does not exist")
        return state
    runs = [
        run
        for run in client.search_runs(
            [found.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=200,
        )
        if run.data.tags.get("twelve.holdout_md5")
    ]
    if not runs:
        state.notes.append(f"no finished training run in experiment {experiment}")
        return state
    latest = runs[0]
    state.run_id = latest.info.run_id
    state.tags, state.params = dict(latest.data.tags), dict(latest.data.params)
    state.metrics = dict(latest.data.metrics)
    state.artifacts = [item.path for item in client.list_artifacts(state.run_id)]
    try:
        state.manifest = mlflow.artifacts.load_dict(f"{latest.info.artifact_uri}/manifest.json")
    except Exception as error:
        state.notes.append(f"manifest.json of {state.run_id} unreadable: {error}")
    for run in runs:
        pipeline = run.data.tags.get("twelve.pipeline", run.data.params.get("estimator", "?"))
        state.holdouts_by_pipeline.setdefault(pipeline, run.data.tags["twelve.holdout_md5"])
    manifest = state.manifest or {}
    dvc = DvcResource()
    for name, md5 in (manifest.get("raw_inputs") or {}).items():
        try:
            dvc.read_version(md5)
            state.raw_inputs_in_dvc[name] = True
        except DataVersionNotFound:
            state.raw_inputs_in_dvc[name] = False
    md5 = manifest.get("training_set_md5")
    if md5:
        state.training_set_profiled, state.training_set_report = documented(md5)
    reproductions = client.get_experiment_by_name(f"{experiment}_reproductions")
    if reproductions is not None:
        done = client.search_runs(
            [reproductions.experiment_id],
            filter_string=f"tags.`twelve.reproduces` = '{state.run_id}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if done:
            state.reproduction_verdict = done[0].data.tags.get("twelve.reproduction_verdict")
    registered = (files.conf.get("bento", {}).get("bento") or {}).get("registered_model")
    if registered:
        try:
            ref = latest_aliased_version(client, registered)
        except Exception as error:
            state.notes.append(str(error))
            return state
        state.bento_model_tag = bentoml_model_tag(ref)
        home = BentoResource().resolved_home()
        for bento_file in sorted((home / "bentos").glob("*/*/bento.yaml")):
            if state.bento_model_tag in bento_file.read_text():
                state.bento_tag = f"{bento_file.parent.parent.name}:{bento_file.parent.name}"
                dockerfile = bento_file.parent / "env" / "docker" / "Dockerfile"
                state.bento_dockerfile = dockerfile.is_file()
    return state


def documented(version: str, store=None, reports_root: Path | None = None) -> tuple[bool, bool]:
    """Whether a data version has a stored profile, and an HTML report beside it.

    Profiles and reports are keyed by the data version (a content md5) under a data set name the
    project chooses (``training_set``, ``<project>_training_set``): every data set is searched.

    Args:
        version: the data version.
        store: the ``ProfileStore`` (default: the one under ``TWELVE_HOME``).
        reports_root: the reports folder (default: ``<TWELVE_HOME>/reports``).

    Returns:
        (profiled, reported).
    """
    from twelve.monitoring import reports
    from twelve.monitoring.profiling import ProfileStore

    store = store or ProfileStore()
    datasets = sorted(path.parent.name for path in store.root.glob(f"*/{version}.bin"))
    reported = any(
        reports.report_path(dataset, version, reports_root).is_file() for dataset in datasets
    )
    return bool(datasets), reported


def audit(project_dir: Path, repo_root: Path | None = None, state: RunState | None = None):
    """Gather the files (and, unless given, the run state) and score them.

    Returns:
        The ``Scorecard``.
    """
    files = gather_files(project_dir, repo_root)
    return score(files, state if state is not None else gather_state(files))
