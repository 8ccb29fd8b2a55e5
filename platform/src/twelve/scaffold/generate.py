"""`twelve new`: create an ML project from the platform's cookiecutter template.

The template (``twelve/scaffold/template/``) renders one folder whose parts are moved to where the
monorepo keeps them:

- ``project/``        -> ``projects/<name>/``        (package, blocks' YAML, contract, dbt, tests,
  its pre-commit hooks)
- ``feature_repo/``   -> ``feature_repo/<name>/``    (a Feast repo of its own: ``project: <name>``)
- ``bento/``          -> ``bentos/<name>/``          (the serving folder)
- ``ci/workflow.yml`` -> ``.github/workflows/<name>.yml`` (lint, tests, golden path, audit)

Then the project registers itself (``twelve.scaffold.registration``): a code location in
``infra/workspace.yaml``, a line in ``feature_repo/.feastignore`` and its logger in
``infra/dagster.yaml``. Each is a one-line append; nothing else of an existing project is touched.

Nothing is left half-generated (:class:`Journal`): the template is rendered into a temporary
folder, every target is checked free first, and when any later step fails (moving, registering,
``dbt parse``, ``uv lock``) every folder created is removed and every file changed restored.
"""

from __future__ import annotations

import keyword
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from twelve.scaffold.journal import Journal, ScaffoldStepError
from twelve.scaffold.registration import (
    ignore_in_shared_feature_repo,
    register_location,
    register_logger,
    registered_locations,
)

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "template"
PROBLEM_TYPES = ("classification", "regression")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,30}[a-z0-9]$")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
# Names that would shadow a module the platform or the stack imports.
RESERVED_NAMES = frozenset(
    {
        "twelve", "dagster", "dbt", "feast", "bentoml", "mlflow", "dvc", "pandas", "numpy",
        "sklearn", "pandera", "whylogs", "test", "tests", "src", "data", "project", "projects",
        "infra", "docs", "platform", "bentos", "feature_repo", "template",
    }
)  # fmt: skip
# What a generated bento installs, pinned to this venv's versions (synced from uv.lock) when the
# project is generated: the pickled Pipeline must be loaded by the libraries that fitted it. The
# same list as bentos/flight_delay/bentofile.yaml (tests/test_template.py compares them): the
# compiled model's onnxruntime, and the production profile's Redis and PostgreSQL clients.
SERVING_PACKAGES = (
    "pydantic", "scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl", "pandas",
    "onnxruntime", "feast", "pandera", "whylogs", "protobuf", "psutil", "redis", "psycopg[binary]",
)  # fmt: skip
# Columns every generated data set has: entity keys must not collide with them.
RESERVED_COLUMNS = frozenset({"event_id", "event_timestamp", "amount", "visits", "label"})


class ScaffoldError(ValueError):
    """An invalid input or an occupied target: the message says which and why."""


@dataclass(frozen=True)
class ProjectOptions:
    """Everything ``twelve new`` asks for; every field has a default except the name."""

    name: str
    problem_type: str = "classification"
    entity_keys: tuple[str, ...] = ("customer_id",)
    description: str = ""
    sample_rows: int = 2000

    @property
    def class_name(self) -> str:
        """The bento's service class: ``churn_risk`` -> ``ChurnRisk``."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def title(self) -> str:
        """Human name: ``churn_risk`` -> ``Churn risk``."""
        return self.name.replace("_", " ").capitalize()

    def context(self) -> dict[str, str]:
        """The cookiecutter context (strings only: cookiecutter renders them as they are)."""
        return {
            "name": self.name,
            "title": self.title,
            "distribution": self.name.replace("_", "-"),
            "problem_type": self.problem_type,
            "entity_keys": ",".join(self.entity_keys),
            "description": self.description or f"{self.title}: a twelve ML project.",
            "sample_rows": str(self.sample_rows),
            "class_name": self.class_name,
            "serving_packages": serving_pins(),
        }


def serving_pins() -> str:
    """``name==version`` of every :data:`SERVING_PACKAGES`, installed here, comma-separated."""
    from importlib.metadata import version

    def distribution(requirement: str) -> str:
        return requirement.split("[")[0]  # "psycopg[binary]" is the distribution psycopg

    return ",".join(f"{name}=={version(distribution(name))}" for name in SERVING_PACKAGES)


def validate_name(name: str) -> str:
    """Check a project name: a Python package name, not already meaningful in the monorepo.

    Raises:
        ScaffoldError: naming the rule the name breaks.
    """
    if not NAME_PATTERN.match(name or ""):
        raise ScaffoldError(
            f"invalid project name {name!r}: use 3-32 characters, lowercase letters, digits and "
            "underscores, starting with a letter and not ending with '_' (e.g. churn, "
            "demand_forecast); it becomes the Python package and code location name"
        )
    if keyword.iskeyword(name) or name in RESERVED_NAMES or name in sys.stdlib_module_names:
        raise ScaffoldError(
            f"invalid project name {name!r}: it would shadow a Python keyword or a module the "
            "platform imports; pick another name"
        )
    return name


def parse_entity_keys(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"customer_id,store_id"`` -> ``("customer_id", "store_id")``, validated.

    Raises:
        ScaffoldError: empty, duplicated, malformed or reserved keys.
    """
    raw = value.split(",") if isinstance(value, str) else list(value)
    keys = tuple(key.strip() for key in raw if key.strip())
    if not keys:
        raise ScaffoldError("at least one entity key is needed (e.g. --entity-keys customer_id)")
    for key in keys:
        if not KEY_PATTERN.match(key) or keyword.iskeyword(key):
            raise ScaffoldError(
                f"invalid entity key {key!r}: lowercase letters, digits and underscores, "
                "starting with a letter (e.g. customer_id)"
            )
        if key in RESERVED_COLUMNS:
            raise ScaffoldError(
                f"invalid entity key {key!r}: the generated data set already has a column of that "
                f"name (reserved: {', '.join(sorted(RESERVED_COLUMNS))})"
            )
    if len(set(keys)) != len(keys):
        raise ScaffoldError(f"entity keys repeat: {', '.join(keys)}")
    if len(keys) > 3:
        raise ScaffoldError(f"at most 3 entity keys, got {len(keys)}: {', '.join(keys)}")
    return keys


def validate_options(options: ProjectOptions) -> ProjectOptions:
    """Validate every input; returns the options unchanged when they hold.

    Raises:
        ScaffoldError: naming the first input that does not hold.
    """
    validate_name(options.name)
    if options.problem_type not in PROBLEM_TYPES:
        raise ScaffoldError(
            f"invalid problem type {options.problem_type!r}: choose one of "
            f"{', '.join(PROBLEM_TYPES)}"
        )
    parse_entity_keys(options.entity_keys)
    if not 200 <= options.sample_rows <= 1_000_000:
        raise ScaffoldError(f"sample rows must be 200..1000000, got {options.sample_rows}")
    if "\n" in options.description or "{{" in options.description:
        raise ScaffoldError("the description must be one line without template braces")
    return options


def validate_context(context: dict[str, str]) -> None:
    """Validate a rendered cookiecutter context (the template's pre-generation hook calls this).

    So running ``cookiecutter`` on the template directly refuses the same inputs as ``twelve new``.
    """
    validate_options(
        ProjectOptions(
            name=context["name"],
            problem_type=context["problem_type"],
            entity_keys=parse_entity_keys(context["entity_keys"]),
            description=context.get("description", ""),
            sample_rows=int(context.get("sample_rows", "2000")),
        )
    )


@dataclass(frozen=True)
class Targets:
    """Where the parts of a project go inside a monorepo root."""

    root: Path
    name: str

    @property
    def project(self) -> Path:
        """The project's folder."""
        return self.root / "projects" / self.name

    @property
    def feature_repo(self) -> Path:
        """Its Feast repository folder."""
        return self.root / "feature_repo" / self.name

    @property
    def bento(self) -> Path:
        """Its bento's folder."""
        return self.root / "bentos" / self.name

    @property
    def workspace(self) -> Path:
        """The Dagster workspace file."""
        return self.root / "infra" / "workspace.yaml"

    @property
    def feastignore(self) -> Path:
        """The Feast repository's ignore file."""
        return self.root / "feature_repo" / ".feastignore"

    @property
    def dagster_yaml(self) -> Path:
        """The Dagster instance settings, whose managed loggers list the project's package."""
        return self.root / "infra" / "dagster.yaml"

    @property
    def workflow(self) -> Path:
        """The project's CI workflow (GitHub reads workflows from the repository root only)."""
        return self.root / ".github" / "workflows" / f"{self.name}.yml"

    def parts(self) -> dict[str, Path]:
        """Rendered sub-folder -> destination."""
        return {"project": self.project, "feature_repo": self.feature_repo, "bento": self.bento}


def check_targets_free(targets: Targets) -> None:
    """Refuse to overwrite anything: every destination must not exist, and no location clash.

    Raises:
        ScaffoldError: naming the first occupied destination.
    """
    for path in (*targets.parts().values(), targets.workflow):
        if path.exists():
            raise ScaffoldError(f"{path} already exists: pick another name or remove it first")
    if targets.name in registered_locations(targets.workspace):
        raise ScaffoldError(
            f"a code location named {targets.name!r} is already in {targets.workspace}"
        )


def render(options: ProjectOptions, staging: Path, template_dir: Path = TEMPLATE_DIR) -> Path:
    """Render the template into ``staging`` (no user config, replay kept inside ``staging``).

    Returns:
        The rendered folder (holding ``project/``, ``feature_repo/``, ``bento/``).
    """
    from cookiecutter.main import cookiecutter

    config = staging / "cookiecutter-config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cookiecutters_dir": str(staging / "cookiecutters"),
                "replay_dir": str(staging / "replay"),
            }
        )
    )
    rendered = cookiecutter(
        str(template_dir),
        no_input=True,
        extra_context=options.context(),
        output_dir=str(staging / "out"),
        config_file=str(config),
    )
    return Path(rendered)


def _place(options: ProjectOptions, targets: Targets, template_dir: Path, journal: Journal):
    with tempfile.TemporaryDirectory(prefix="twelve-new-") as tmp:
        rendered = render(options, Path(tmp), template_dir)
        for part, destination in targets.parts().items():
            journal.make_dirs(destination.parent)
            journal.created(destination)
            shutil.move(str(rendered / part), str(destination))
        journal.make_dirs(targets.workflow.parent)
        journal.created(targets.workflow)
        shutil.move(str(rendered / "ci" / "workflow.yml"), str(targets.workflow))
    journal.will_change(targets.workspace)
    register_location(targets.workspace, options.name)
    journal.will_change(targets.feastignore)
    ignore_in_shared_feature_repo(targets.feastignore, options.name)
    journal.will_change(targets.dagster_yaml)
    register_logger(targets.dagster_yaml, options.name)


# (step, what to do when it fails): the hint is printed with the error.
_HINTS = {
    "writing the project": "check that projects/, feature_repo/, bentos/ and infra/ are "
    "writable and the disk has space, then run `twelve new` again",
    "dbt parse": "the generated dbt project did not parse (dbt's output is above); this is a "
    "template bug: report it with the output",
    "uv lock": "`uv lock` must reach the package index (PyPI) to add the project to uv.lock; "
    "check the network or proxy settings, or run again with --skip-lock and run `uv lock` "
    "yourself",
}


def generate(
    options: ProjectOptions,
    root: Path,
    template_dir: Path = TEMPLATE_DIR,
    *,
    prepare: bool = True,
    lock: bool = True,
) -> Targets:
    """Create the project inside the monorepo at ``root``, register it, prepare and lock it.

    All or nothing: the template is rendered into a temporary folder and every target checked
    free before anything is written; when any later step fails (moving the parts, registering
    the code location, ``dbt parse``, ``uv lock``, a full disk, Ctrl-C), every folder created is
    removed and every file changed gets its former content back.

    Args:
        options: The inputs (validated here).
        root: The monorepo root (holds ``projects/``, ``feature_repo/``, ``infra/``).
        template_dir: The cookiecutter template.
        prepare: Write the project's dbt manifest (its code location needs it).
        lock: Add the new workspace member to ``uv.lock`` (``make install`` syncs --locked).

    Returns:
        Where each part went.

    Raises:
        ScaffoldError: invalid inputs or an occupied destination (nothing is written).
        ScaffoldStepError: a step failed; everything was put back (the message says which step
            and what to do).
    """
    validate_options(options)
    targets = Targets(Path(root).resolve(), options.name)
    check_targets_free(targets)
    journal = Journal()
    step = "writing the project"
    try:
        _place(options, targets, template_dir, journal)
        if prepare:
            step = "dbt parse"
            prepare_dbt(targets)
        if lock and (targets.root / "uv.lock").is_file():
            step = "uv lock"
            journal.will_change(targets.root / "uv.lock")
            update_lock(targets.root)
    except BaseException as error:
        restored = journal.rollback()
        log.error(
            "twelve new %s: %s failed; removed or restored %d path(s), nothing is left behind",
            options.name,
            step,
            len(restored),
        )
        if isinstance(error, Exception):
            raise ScaffoldStepError(step, error, _HINTS[step]) from error
        raise
    log.info("created %s, %s, %s", targets.project, targets.feature_repo, targets.bento)
    return targets


def prepare_dbt(targets: Targets) -> Path:
    """Write the new project's dbt manifest (``dbt parse``), which its code location needs.

    The platform's ``twelve.features.dbt.parse``, as ``make install`` runs it for every project
    (it reads the project's ``[tool.twelve]``; the project need not be installed yet).

    Returns:
        The manifest path.

    Raises:
        RuntimeError: dbt could not parse the project (its output is in the message).
    """
    from twelve.core.project import Project
    from twelve.features.dbt import parse

    return parse(Project.load(targets.project))


def update_lock(root: Path) -> bool:
    """Add a new workspace member to ``uv.lock`` with a normal ``uv lock``.

    The lock file must list every member, or ``uv sync --locked`` (``make install``) refuses to
    run; commit it with the project. ``uv lock`` keeps every version already locked (it only
    resolves what is new); it reads the package index for metadata, because a uv cache filled by
    ``uv sync`` holds wheels, not the registry metadata a resolution needs (``--offline`` then
    fails on a fresh machine). Installing the project into the venv is then
    ``uv sync --all-packages``.

    Returns:
        False when there is no ``uv.lock`` at ``root`` (nothing to update).

    Raises:
        RuntimeError: uv failed (its output is in the message).
    """
    if not (Path(root) / "uv.lock").is_file():
        return False
    uv = Path(sys.executable).parent / "uv"
    command = [str(uv) if uv.exists() else "uv", "lock", "--project", str(root)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"`uv lock` failed:\n{completed.stdout}{completed.stderr}")
    return True
