"""Statistics per data version (factor 8): a whylogs profile and an HTML report per version.

Each version of the raw events and of the training set gets its profile stored under the
version's md5 (``<TWELVE_HOME>/profiles/<dataset>/<md5>.bin``) and a report beside it
(``<TWELVE_HOME>/reports/<dataset>/<md5>.html``, opens offline), made by
``twelve.monitoring.reports``. The
training set's profile is the reference the bento embeds; the raw version it was built from is
the reference of the drift sensor.
"""

import dagster as dg
import pandas as pd
from twelve.data.versioning import DvcResource
from twelve.monitoring import reports
from twelve.monitoring.profiling import ProfileStore

from {{ cookiecutter.name }} import resources
from {{ cookiecutter.name }}.contract import LABEL, MODEL_INPUT
from {{ cookiecutter.name }}.paths import (
    ASSET_PREFIX,
    RAW_DATASET,
    TRAINING_SET_DATASET,
    asset_key,
    raw_events_path,
    training_set_path,
)


def document(context: dg.AssetExecutionContext, dataset: str, path, version: str, facts: dict):
    """Profile and report the file at ``path`` as ``dataset`` at ``version`` (skipped if done)."""
    store = ProfileStore()
    report = reports.report_path(dataset, version)
    if store.exists(dataset, version) and report.is_file():
        context.log.info("%s@%s is already documented: %s", dataset, version, report)
    else:
        documented = reports.document_version(
            pd.read_parquet(path), dataset=dataset, version=version, store=store, source=path,
            facts=facts,
        )  # fmt: skip
        report = documented.report
    return {
        "data_version": version,
        "report": dg.MetadataValue.path(str(report)),
        "profile": dg.MetadataValue.path(str(store.path_of(dataset, version))),
    }


def versioned(dvc: DvcResource, path) -> str:
    """The DVC md5 of a tracked file (its data version)."""
    version = dvc.version_of(path)
    if version is None:
        raise dg.Failure(f"{path} is not versioned with DVC: materialize its asset first")
    return version


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("raw_events")],
    group_name="data_reports",
    kinds={"whylogs", "html"},
    code_version="1",
)
def raw_events_profile(context: dg.AssetExecutionContext, dvc: DvcResource) -> dg.MaterializeResult:
    """Statistics of the current raw events: a whylogs profile and an HTML data report.

    Stored under the raw file's DVC md5; the drift sensor compares it with the raw data of the
    reference training set.
    """
    version = versioned(dvc, raw_events_path())
    metadata = document(context, RAW_DATASET, raw_events_path(), version, {})
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata=metadata)


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("training_set"), asset_key("raw_events_profile")],
    group_name="data_reports",
    kinds={"whylogs", "html"},
    code_version="1",
)
def training_set_profile(
    context: dg.AssetExecutionContext, dvc: DvcResource
) -> dg.MaterializeResult:
    """Statistics of the training set: THE reference profile the bento embeds.

    Stored under the training set's md5 (the hash in every run manifest), with its HTML report,
    and made the reference of its data set; the raw version it was built from becomes the drift
    sensor's reference.
    """
    version = versioned(dvc, training_set_path())
    roles = {"features": list(MODEL_INPUT), "label": LABEL}
    metadata = document(
        context, TRAINING_SET_DATASET, training_set_path(), version, {"column_roles": roles}
    )
    store = ProfileStore()
    store.set_reference(TRAINING_SET_DATASET, version)
    raw_version = versioned(dvc, raw_events_path())
    store.set_reference(RAW_DATASET, raw_version)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={**metadata, "raw_reference": raw_version},
    )


def defs() -> dg.Definitions:
    """The profile assets and the DVC resource."""
    return dg.Definitions(
        assets=[raw_events_profile, training_set_profile], resources={"dvc": resources.dvc()}
    )
