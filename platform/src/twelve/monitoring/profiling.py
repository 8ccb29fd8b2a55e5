"""Statistics per data version (factor 8): whylogs profiles keyed by the version they describe.

A profile is a set of mergeable sketches per column (counts, nulls, a KLL quantile sketch, an HLL
distinct-count sketch, frequent items), a few kilobytes whatever the size of the data. Profiles are
stored beside the version of the data they describe::

    <TWELVE_HOME>/profiles/<dataset>/<version>.bin    the serialized whylogs profile
    <TWELVE_HOME>/profiles/<dataset>/<version>.json   sidecar: rows, columns, created, source, ...
    <TWELVE_HOME>/profiles/<dataset>/reference.json   the "latest reference" pointer (see below)

The version is the data version of the file profiled: its DVC md5, which for a single file is
the plain md5 of its bytes (DVC 3), so :func:`file_md5` gives the same key for untracked files.

**Reference profiles.** The training set's profile is the reference that serving (training-serving
skew) and drift detection compare against. Two ways to find it:

- by version, exactly: ``store.read("training_set", <training-set md5 from the model's run
  manifest>)`` -- the profile of the data *that* model was trained on;
- the latest one: ``store.read_reference("training_set")`` / ``store.reference_path(...)``, which
  follow ``reference.json``, rewritten each time a training set is profiled.

This module does not import Dagster, so a BentoML service or a CLI can use it as it is.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twelve.core import paths

if TYPE_CHECKING:
    from whylogs.core import DatasetProfileView

log = logging.getLogger(__name__)


def whylogs_offline() -> None:
    """Switch whylogs' usage telemetry off; call before importing whylogs (it reads it then).

    Called where whylogs is used, never at import: importing this module changes nothing.
    """
    os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")


# Keys twelve adds to a profile's metadata (serialized with the profile).
DATETIME_COLUMNS_KEY = "twelve.datetime_columns"
COLUMN_ORDER_KEY = "twelve.columns"

REFERENCE_FILE = "reference.json"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ProfileNotFound(FileNotFoundError):
    """No profile is stored for a dataset at a version (or no reference is set)."""


# --------------------------------------------------------------------------- profiling
@functools.cache
def _type_mapper():
    """Whylogs' type mapper, minus its crash under NumPy 2.

    whylogs 1.6.4 matches string columns with ``np.unicode_``, removed in NumPy 2: every column
    whose dtype is neither numeric nor ``object`` (pandas ``string``, datetimes) raised
    ``AttributeError``. This mapper asks whylogs' own numeric matchers first and recognises
    strings itself.
    """
    whylogs_offline()
    from whylogs.core.datatypes import AnyType, Fractional, Integral, String, TypeMapper

    class NumpyTwoTypeMapper(TypeMapper):
        def __call__(self, dtype_or_type: Any):
            for candidate in (Integral, Fractional):
                if candidate.match(dtype_or_type):
                    return candidate()
            if _is_string_like(dtype_or_type):
                return String()
            return AnyType()

    return NumpyTwoTypeMapper()


def _is_string_like(dtype_or_type: Any) -> bool:
    if isinstance(dtype_or_type, pd.CategoricalDtype):
        return True
    if getattr(dtype_or_type, "name", None) == "object" or isinstance(
        dtype_or_type, pd.StringDtype
    ):
        return True
    kind = getattr(dtype_or_type, "type", dtype_or_type)
    return isinstance(kind, type) and issubclass(kind, str | np.str_)


def _epoch_seconds(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return (series - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)


def _prepared(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Columns in the form whylogs profiles well, and the names of the datetime columns.

    - datetimes become float seconds since the epoch (UTC): whylogs only counts values it cannot
      treat as numbers, and a time column's range and distribution are worth seeing;
    - ``object`` columns holding only strings, and categoricals, become pandas ``string``: whylogs
      splits ``object`` columns value by value in Python, ``string`` ones in one go (~10x faster).
    """
    columns: dict[str, pd.Series] = {}
    datetime_columns: list[str] = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            datetime_columns.append(name)
            series = _epoch_seconds(series)
        elif isinstance(series.dtype, pd.CategoricalDtype) or (
            series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string"
        ):
            series = series.astype("string")
        columns[name] = series
    return pd.DataFrame(columns, index=frame.index), datetime_columns


def profile_frame(frame: pd.DataFrame) -> DatasetProfileView:
    """Profile a data frame with whylogs.

    Args:
        frame: the data; column names must be unique strings. Datetime columns are profiled as
            seconds since the epoch (UTC) and recorded in the profile's metadata, so summaries and
            reports show them as dates again.

    Returns:
        The profile view (serializable, mergeable with other profiles of the same columns).

    Raises:
        TypeError: ``frame`` is not a DataFrame or a column name is not a string.
        ValueError: the frame has no columns, or duplicate column names.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"profile_frame needs a pandas DataFrame, got {type(frame).__name__}")
    if frame.columns.empty:
        raise ValueError("cannot profile a frame without columns")
    not_str = [repr(name) for name in frame.columns if not isinstance(name, str)]
    if not_str:
        raise TypeError(f"column names must be strings; these are not: {', '.join(not_str)}")
    duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if duplicated:
        raise ValueError(f"duplicate column name(s): {duplicated}")

    whylogs_offline()
    import whylogs as why
    from whylogs.core import DatasetSchema

    prepared, datetime_columns = _prepared(frame)
    view = why.log(pandas=prepared, schema=DatasetSchema(type_mapper=_type_mapper())).view()
    view.metadata[DATETIME_COLUMNS_KEY] = json.dumps(datetime_columns)
    view.metadata[COLUMN_ORDER_KEY] = json.dumps(list(frame.columns))
    return view


def datetime_columns(view: DatasetProfileView) -> list[str]:
    """Names of the columns profiled as datetimes (values are seconds since the epoch, UTC)."""
    return json.loads(view.metadata.get(DATETIME_COLUMNS_KEY, "[]"))


def column_names(view: DatasetProfileView) -> list[str]:
    """The profiled columns, in the order of the frame that was profiled."""
    known = list(view.get_columns())
    ordered = [
        name for name in json.loads(view.metadata.get(COLUMN_ORDER_KEY, "[]")) if name in known
    ]
    return ordered + [name for name in known if name not in ordered]


def row_count(view: DatasetProfileView) -> int:
    """Number of rows profiled (every column counts every row, null or not)."""
    counts = [
        int(column.get_metric("counts").n.value)
        for column in view.get_columns().values()
        if column.get_metric("counts") is not None
    ]
    return max(counts, default=0)


# --------------------------------------------------------------------------- hashing
# --------------------------------------------------------------------------- the store
@dataclass(frozen=True)
class StoredProfile:
    """Where a stored profile lives and what its sidecar says."""

    dataset: str
    version: str
    path: Path
    info_path: Path
    info: dict[str, Any]


def check_name(kind: str, value: str) -> str:
    """Return ``value`` if it is safe as one path component (a dataset or version name).

    Raises:
        ValueError: it is empty, has a separator, starts with a dot or ends in ``.json``.
    """
    if not isinstance(value, str) or not _SAFE_NAME.match(value) or value.endswith(".json"):
        raise ValueError(
            f"{kind} {value!r} is not usable as a file name: use letters, digits, '.', '_', '-', "
            "starting with a letter or digit"
        )
    return value


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader (a drift sensor, the serving process) must never see half a profile.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


class ProfileStore:
    """Profiles stored per dataset and data version, with a JSON sidecar and a reference pointer.

    Args:
        root: the store's folder; default ``<TWELVE_HOME>/profiles`` (resolved when used, not at
            construction, so the environment of the caller decides).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root else None

    @property
    def root(self) -> Path:
        """The store's folder."""
        return self._root if self._root is not None else paths.state_dir() / "profiles"

    def path_of(self, dataset: str, version: str) -> Path:
        """The profile file of a dataset at a version (it may not exist)."""
        return self.root / check_name("dataset", dataset) / f"{check_name('version', version)}.bin"

    def _info_path(self, dataset: str, version: str) -> Path:
        return self.path_of(dataset, version).with_suffix(".json")

    def exists(self, dataset: str, version: str) -> bool:
        """Whether a profile of ``dataset`` at ``version`` is stored."""
        return self.path_of(dataset, version).is_file()

    def write(
        self,
        dataset: str,
        version: str,
        view: DatasetProfileView,
        *,
        source: str | Path | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> StoredProfile:
        """Store a profile (replacing any previous one of the same version).

        Args:
            dataset: the dataset's name (a folder of the store), e.g. ``raw_flights``.
            version: its data version, e.g. the file's DVC md5.
            view: the profile.
            source: the file that was profiled, recorded in the sidecar.
            extra: more JSON-serializable facts for the sidecar (e.g. ``partition``, column roles).

        Returns:
            The stored profile's paths and sidecar.
        """
        whylogs_offline()
        import whylogs

        path = self.path_of(dataset, version)
        info = {
            "dataset": dataset,
            "version": version,
            "rows": row_count(view),
            "columns": column_names(view),
            "datetime_columns": datetime_columns(view),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": str(source) if source is not None else None,
            "whylogs_version": whylogs.__version__,
            "profile_file": path.name,
            **dict(extra or {}),
        }
        _write_atomically(path, view.serialize())
        _write_atomically(path.with_suffix(".json"), json.dumps(info, indent=2).encode())
        log.info("stored profile of %s@%s (%d rows) at %s", dataset, version, info["rows"], path)
        return StoredProfile(dataset, version, path, path.with_suffix(".json"), info)

    def _missing(self, dataset: str, version: str) -> ProfileNotFound:
        known = self.versions(dataset)
        return ProfileNotFound(
            f"no profile of dataset {dataset!r} at version {version!r} in {self.root / dataset}; "
            f"stored versions: {known or 'none'}"
        )

    def read(self, dataset: str, version: str) -> DatasetProfileView:
        """Read the profile of ``dataset`` at ``version``.

        Raises:
            ProfileNotFound: none is stored (the message names the dataset, the version and the
                versions that are stored).
        """
        whylogs_offline()
        from whylogs.core import DatasetProfileView

        path = self.path_of(dataset, version)
        if not path.is_file():
            raise self._missing(dataset, version)
        return DatasetProfileView.deserialize(path.read_bytes())

    def info(self, dataset: str, version: str) -> dict[str, Any]:
        """The sidecar of a stored profile (rows, columns, created, source, ...)."""
        path = self._info_path(dataset, version)
        if not path.is_file():
            raise self._missing(dataset, version)
        return json.loads(path.read_text())

    def get(self, dataset: str, version: str) -> StoredProfile:
        """Paths and sidecar of a stored profile."""
        return StoredProfile(
            dataset,
            version,
            self.path_of(dataset, version),
            self._info_path(dataset, version),
            self.info(dataset, version),
        )

    def versions(self, dataset: str) -> list[str]:
        """Versions stored for a dataset, oldest first (by the sidecar's ``created``)."""
        folder = self.root / check_name("dataset", dataset)
        if not folder.is_dir():
            return []
        infos = []
        for sidecar in folder.glob("*.json"):
            if sidecar.name != REFERENCE_FILE and sidecar.with_suffix(".bin").is_file():
                infos.append(json.loads(sidecar.read_text()))
        return [
            info["version"] for info in sorted(infos, key=lambda i: (i["created"], i["version"]))
        ]

    # ----------------------------------------------------------------- reference pointer
    def set_reference(self, dataset: str, version: str) -> Path:
        """Make a stored profile the dataset's reference (what serving and drift compare to).

        Returns:
            The pointer file, ``<root>/<dataset>/reference.json``.
        """
        stored = self.get(dataset, version)
        pointer = self.root / dataset / REFERENCE_FILE
        body = {
            "dataset": dataset,
            "version": version,
            "profile": str(stored.path),
            "rows": stored.info.get("rows"),
            "set_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_atomically(pointer, json.dumps(body, indent=2).encode())
        log.info("reference profile of %s is now version %s", dataset, version)
        return pointer

    def reference_version(self, dataset: str) -> str:
        """The version the dataset's reference pointer names.

        Raises:
            ProfileNotFound: no reference is set, or the profile it names is gone.
        """
        pointer = self.root / check_name("dataset", dataset) / REFERENCE_FILE
        if not pointer.is_file():
            raise ProfileNotFound(
                f"no reference profile is set for dataset {dataset!r} (no {pointer}); "
                "profile a version first (for the training set: materialize training_set_profile)"
            )
        version = json.loads(pointer.read_text())["version"]
        if not self.exists(dataset, version):
            raise self._missing(dataset, version)
        return version

    def reference_path(self, dataset: str) -> Path:
        """The profile file of the dataset's reference version."""
        return self.path_of(dataset, self.reference_version(dataset))

    def read_reference(self, dataset: str) -> DatasetProfileView:
        """Read the dataset's reference profile."""
        return self.read(dataset, self.reference_version(dataset))
