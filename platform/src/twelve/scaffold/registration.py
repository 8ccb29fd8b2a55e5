"""How a generated project registers itself in the monorepo's shared files.

Each is a text append that keeps the file's comments, with its undo: a code location in
``infra/workspace.yaml``, a line in ``feature_repo/.feastignore`` (Feast imports every ``.py``
under ``feature_repo/``; the shared repo must not import another project's definitions) and the
package's logger in ``infra/dagster.yaml`` (its log lines then reach the Dagster UI).
"""

from __future__ import annotations

from pathlib import Path

import yaml


class RegistrationError(ValueError):
    """A shared file does not have the layout the append expects (nothing was changed)."""


def registered_locations(workspace: Path) -> list[str]:
    """Code location names of a Dagster ``workspace.yaml`` (empty when it does not exist)."""
    if not workspace.exists():
        return []
    spec = yaml.safe_load(workspace.read_text()) or {}
    names = []
    for entry in spec.get("load_from") or []:
        for target in entry.values():
            name = target.get("location_name")
            names.append(name or target.get("module_name") or target.get("relative_path"))
    return names


def workspace_entry(name: str) -> str:
    """The workspace.yaml lines of a generated project's code location.

    A ``python_file`` target because Dagster resolves its ``relative_path`` and
    ``working_directory`` against the workspace file (a ``python_module``'s working directory is
    taken relative to the current directory instead). ``working_directory`` puts
    ``projects/<name>/src`` on the code server's ``sys.path``, so the location loads from any
    directory, before the project is installed into the venv (``uv sync --all-packages``).
    """
    return (
        "  - python_file:\n"
        f"      relative_path: ../projects/{name}/src/{name}/definitions.py\n"
        f"      working_directory: ../projects/{name}/src\n"
        f"      location_name: {name}\n"
    )


def register_location(workspace: Path, name: str) -> bool:
    """Append the project's code location to ``workspace.yaml`` (text append: comments stay).

    Returns:
        False when the location was already registered (nothing written).
    """
    if name in registered_locations(workspace):
        return False
    text = workspace.read_text() if workspace.exists() else "load_from:\n"
    if not text.endswith("\n"):
        text += "\n"
    workspace.parent.mkdir(parents=True, exist_ok=True)
    workspace.write_text(text + workspace_entry(name))
    if name not in registered_locations(workspace):  # the file did not parse as we expect
        workspace.write_text(text)
        raise RegistrationError(f"could not register {name!r} in {workspace}: unexpected layout")
    return True


def unregister_location(workspace: Path, name: str) -> None:
    """Remove what :func:`register_location` appended (used when a later step fails)."""
    if workspace.exists():
        workspace.write_text(workspace.read_text().replace(workspace_entry(name), ""))


def feastignore_line(name: str) -> str:
    """The ``.feastignore`` line that hides a project's own Feast repo from the shared one."""
    return f"{name}/  # project {name}: its own Feast repo (see {name}/feature_store.yaml)\n"


def ignore_in_shared_feature_repo(feastignore: Path, name: str) -> bool:
    """Keep the shared Feast repo from importing the project's own feature repo.

    Returns:
        False when the line was already there.
    """
    text = feastignore.read_text() if feastignore.exists() else ""
    if feastignore_line(name) in text:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    feastignore.parent.mkdir(parents=True, exist_ok=True)
    feastignore.write_text(text + feastignore_line(name))
    return True


def managed_loggers(dagster_yaml: Path) -> list[str]:
    """The ``python_logs.managed_python_loggers`` of a Dagster instance file (empty if none)."""
    if not dagster_yaml.exists():
        return []
    spec = yaml.safe_load(dagster_yaml.read_text()) or {}
    return list((spec.get("python_logs") or {}).get("managed_python_loggers") or [])


def register_logger(dagster_yaml: Path, package: str) -> bool:
    """Add ``package`` to the instance's managed loggers, after the last one listed.

    Returns:
        False when the file is missing or already lists it (nothing written).

    Raises:
        RegistrationError: the file lists no managed logger to add it after.
    """
    if not dagster_yaml.exists() or package in managed_loggers(dagster_yaml):
        return False
    lines = dagster_yaml.read_text().splitlines(keepends=True)
    last = max(
        (i for i, line in enumerate(lines) if line.strip().startswith("- ")
         and line.strip()[2:].strip() in managed_loggers(dagster_yaml)),
        default=None,
    )  # fmt: skip
    if last is None:
        raise RegistrationError(
            f"{dagster_yaml} has no python_logs.managed_python_loggers list to add {package!r} to"
        )
    indent = lines[last][: len(lines[last]) - len(lines[last].lstrip())]
    lines.insert(last + 1, f"{indent}- {package}\n")
    dagster_yaml.write_text("".join(lines))
    return True
