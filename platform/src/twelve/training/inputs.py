"""What the training assets read, and how they hand facts on (factors 1, 4 and 10).

The training set and the holdout are DVC-versioned files: the holdout is read back by its md5
(exactly the version a model was scored on, even after the file was replaced), and every data
version a model depends on is stored in the DVC cache and remote before the model is registered.
Assets hand facts on (model version, metrics, holdout version) through their materialization
metadata, so any of them can be re-run alone from the UI. Failures are ``dg.Failure`` with a
message that names the file or the asset.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from twelve.core.files import file_md5
from twelve.core.project import Project
from twelve.data.versioning import DvcResource


def read_parquet(path: Path, what: str) -> pd.DataFrame:
    """A parquet file the block reads.

    Raises:
        dg.Failure: it does not exist (named, with what to materialize).
    """
    if not path.is_file():
        raise dg.Failure(description=f"{what} {path} does not exist: materialize it first")
    return pd.read_parquet(path)


def latest_metadata(context: dg.AssetExecutionContext, key: dg.AssetKey) -> dict[str, Any]:
    """The metadata values of an asset's latest materialization (how facts flow downstream).

    Raises:
        dg.Failure: the asset was never materialized.
    """
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        raise dg.Failure(description=f"asset '{key.to_user_string()}' has never been materialized")
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def fact(metadata: dict[str, Any], name: str, asset: dg.AssetKey) -> Any:
    """One fact of an upstream asset's latest metadata.

    Raises:
        dg.Failure: the fact is missing (materialized by an older version of the block).
    """
    if name not in metadata:
        raise dg.Failure(
            description=f"the latest materialization of '{asset.to_user_string()}' has no "
            f"'{name}': materialize it again with this version of the training block"
        )
    return metadata[name]


def check_feature_service(
    context: dg.AssetExecutionContext, training_set: dg.AssetKey, configured: str
) -> None:
    """Refuse a config whose feature service differs from the training set's.

    The training set records the service it was retrieved with; another one in the training
    config would put a false statement into the manifest.
    """
    event = context.instance.get_latest_materialization_event(training_set)
    if event is None or event.asset_materialization is None:
        return
    recorded = event.asset_materialization.metadata.get("feature_service")
    if recorded is not None and recorded.value != configured:
        raise dg.Failure(
            description=(
                f"the training set was built with feature service '{recorded.value}' but the "
                f"training config says '{configured}'"
            )
        )


def track(dvc: DvcResource, path: Path) -> str:
    """``dvc add`` and push a file the block wrote; its md5.

    Raises:
        dg.Failure: DVC refuses the file because its pointer would be git-ignored.
    """
    from dvc.dvcfile import FileIsGitIgnored

    try:
        return dvc.track(path)
    except FileIsGitIgnored as error:
        # DVC refuses a pointer git would not see: the holdout's version must be committable.
        raise dg.Failure(
            description=(
                f"DVC refuses to version {path}: its pointer {path.name}.dvc is git-ignored. "
                "Ignore only the data files of that folder (e.g. `/data/training/*.parquet` "
                "instead of `/data/training/` in .gitignore)."
            )
        ) from error


def versioned_inputs(project: Project, dvc: DvcResource) -> tuple[str, str]:
    """The DVC md5 of the training set and of the holdout, each stored in the cache and remote.

    Every data version the model will depend on (each raw file, the training set, the holdout)
    is made sure to be in the DVC cache and the remote before the model is registered, whether
    or not its pointer changed: `twelve reproduce` restores them by the md5s of the manifest.

    Raises:
        dg.Failure: a file is missing, unversioned, changed since it was versioned, or a raw
            version is in neither the cache nor the remote.
    """
    from dvc.dvcfile import FileIsGitIgnored

    from twelve.data.versioning import DataVersionNotFound

    path, holdout = project.training_set_path(), project.holdout_path()
    if not path.is_file():
        raise dg.Failure(description=f"the training set {path} does not exist: materialize it")
    try:
        dvc.ensure_folder_stored(project.raw_dir())
        training_md5 = dvc.ensure_stored(path)
    except FileIsGitIgnored as error:
        raise dg.Failure(description=f"DVC refuses to version {path}: {error}") from error
    except DataVersionNotFound as error:
        raise dg.Failure(description=str(error)) from error
    holdout_md5 = dvc.version_of(holdout)
    if holdout_md5 is None:
        raise dg.Failure(description=f"{holdout} is not versioned: materialize holdout_set")
    if file_md5(holdout) != holdout_md5:
        raise dg.Failure(
            description=f"{holdout} changed since it was versioned: rematerialize holdout_set"
        )
    dvc.ensure_stored(holdout)
    return training_md5, holdout_md5


def holdout_version(dvc: DvcResource, md5: str) -> pd.DataFrame:
    """The holdout of version ``md5``, read from the DVC cache or remote.

    Read by md5, not by path: the candidate and the champion are scored on exactly the holdout
    version recorded in the candidate's manifest, even if the file was replaced since.
    """
    return pd.read_parquet(io.BytesIO(dvc.read_version(md5)))
