"""Configuration defaults in YAML files, apart from code (factor 3).

A project keeps its defaults (split months, hyper-parameters, thresholds, paths) in
``conf/*.yaml``; its typed ``dg.Config`` classes take their field defaults from there, so the
Dagster launchpad shows them and a run can override any of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

if TYPE_CHECKING:
    from pydantic import BaseModel

C = TypeVar("C", bound="BaseModel")
F = TypeVar("F", bound=Callable[..., Any])


@cache
def _load(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"configuration file {file} is missing")
    content = yaml.safe_load(file.read_text()) or {}
    if not isinstance(content, dict):
        kind = type(content).__name__
        raise ValueError(f"{file}: expected a mapping at the top level, got {kind}")
    return content


def load_defaults(path: str | Path, section: str | None = None) -> dict[str, Any]:
    """Read (once) a YAML file of defaults, or one top-level section of it.

    Args:
        path: the YAML file.
        section: a top-level key to return; None for the whole file.

    Returns:
        A copy of the mapping, safe to mutate.

    Raises:
        KeyError: the section is not in the file (the message names file and section).
    """
    content = _load(str(Path(path).resolve()))
    if section is None:
        return json.loads(json.dumps(content))
    if section not in content:
        raise KeyError(f"{path}: no section '{section}' (sections: {sorted(content)})")
    return json.loads(json.dumps(content[section]))


def config_hash(config: dict[str, Any]) -> str:
    """A stable short hash of a configuration mapping (key order does not matter)."""
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def with_defaults(base: type[C], defaults: Mapping[str, Any], name: str | None = None) -> type[C]:
    """A subclass of a ``dg.Config`` whose fields default to ``defaults`` (a block's YAML).

    A block's typed run config keeps its fields, descriptions, bounds and validators in code; the
    defaults come from the project's ``defs.yaml``, so the Dagster launchpad shows them and a run
    can override any of them. The defaults are validated here, when definitions are built: a
    wrong value in the YAML fails then, naming the field, not in the middle of a run.

    Args:
        base: the config class.
        defaults: field name -> default value.
        name: the new class's name (Dagster names config types after it: unique per location).

    Returns:
        The subclass (``base`` itself when there is nothing to change).

    Raises:
        ValueError: a name that is not a field of ``base``, or a value its field refuses.
    """
    from pydantic import ValidationError, create_model
    from pydantic.fields import FieldInfo

    unknown = sorted(set(defaults) - set(base.model_fields))
    if unknown:
        raise ValueError(
            f"{base.__name__}: unknown setting(s) {unknown}; "
            f"its fields: {sorted(base.model_fields)}"
        )
    if not defaults:
        return base
    fields: dict[str, Any] = {
        key: (base.model_fields[key].annotation, FieldInfo.merge_field_infos(
            base.model_fields[key], default=value
        ))
        for key, value in defaults.items()
    }  # fmt: skip
    subclass = create_model(name or base.__name__, __base__=base, __doc__=base.__doc__, **fields)
    try:
        subclass(**dict(defaults))
    except ValidationError as error:
        raise ValueError(f"{name or base.__name__} defaults: {error}") from error
    return subclass


def config_annotation(config_class: type) -> Callable[[F], F]:
    """Annotate a Dagster asset function's ``config`` parameter with a class made at run time.

    Dagster reads the run config schema off the ``config`` annotation. A block's config class is
    made when its definitions are built (:func:`with_defaults`: defaults from YAML), so it cannot
    be written in the signature for a type checker: the signature names the base class (what the
    function may rely on) and this decorator, applied below ``@dg.asset``, puts the subclass in
    its place.

    Args:
        config_class: the subclass of the annotated base class that Dagster should see.

    Returns:
        A decorator that returns the function itself, re-annotated.
    """

    def annotate(function: F) -> F:
        function.__annotations__["config"] = config_class
        return function

    return annotate
