"""Deployable artifact (factor 12): the aliased model version, built into a servable bento.

The platform does the work (``twelve.deploy.bento``); this area only says which model, which service
folder (``bentos/flight_delay``), and where the threshold, the contract and the reference profile
of a model version are found.
"""

import dagster as dg
from pydantic import Field

from flight_delays import paths as project_paths
from twelve.core import tags
from twelve.core.config import load_defaults
from twelve.deploy import bento as bentos
from twelve.deploy.bento import BentoBuildError, BentoResource
from twelve.monitoring.profiling import ProfileStore
from twelve.training.tracking import MlflowResource

TRAINING_SET_DATASET = "training_set"
_DEFAULTS = load_defaults(project_paths.CONF_DIR / "bento.yaml", "bento")


class BentoConfig(dg.Config):
    """Which model version becomes a bento, and where its facts are recorded."""

    registered_model: str = Field(
        default=_DEFAULTS["registered_model"], description="MLflow registered model to deploy."
    )
    aliases: list[str] = Field(
        default=_DEFAULTS["aliases"],
        description="Aliases that make a version deployable; the newest such version is built.",
    )
    threshold_key: str = Field(
        default=_DEFAULTS["threshold_key"],
        description="Version tag, run tag or run param holding the decision threshold.",
    )
    training_set_version_key: str = Field(
        default=_DEFAULTS["training_set_version_key"],
        description="Version tag, run tag or run param holding the training set's md5.",
    )
    contract: str = Field(
        default=_DEFAULTS["contract"],
        description="The feature contract to embed, as 'module:attribute'.",
    )


def _reference_profile(md5: str):
    store = ProfileStore()
    path = store.path_of(TRAINING_SET_DATASET, md5)
    if not path.is_file():
        raise BentoBuildError(
            f"no reference profile of the training set at version {md5} ({path}): "
            "materialize training_set_profile for the data this model was trained on"
        )
    return path


@dg.asset(
    deps=[dg.AssetDep("model_alias")],
    group_name="deployment",
    # The role the platform's jobs and the replay find it by (until the bento block).
    tags=tags.role(tags.BENTO),
    code_version="1",
    kinds={"bentoml"},
)
def bento(
    context: dg.AssetExecutionContext,
    config: BentoConfig,
    mlflow: MlflowResource,
    bentoml: BentoResource,
) -> dg.MaterializeResult:
    """The servable artifact of the newest model version that carries an alias (champion or
    challenger).

    `bentoml build` of `bentos/flight_delay` with that version's fitted Pipeline, its feature
    contract and its training set's reference profile inside. The bento tag is recorded on the
    MLflow model version (tag `bento_tag`); the container recipe `env/docker/Dockerfile` stays in
    the bento. Built once per model version and service code: a re-run with nothing new reuses
    it. Serve it with the command in the metadata.
    """
    client = mlflow.client()
    try:
        ref = bentos.latest_aliased_version(client, config.registered_model, config.aliases)
        threshold = float(bentos.run_value(client, ref, config.threshold_key))
        md5 = bentos.run_value(client, ref, config.training_set_version_key)
        built = bentoml.package(
            service_dir=project_paths.BENTO_DIR,
            client=client,
            tracking_uri=mlflow.resolved_tracking_uri(),
            ref=ref,
            threshold=threshold,
            contract=bentos.contract_description(config.contract),
            reference_profile=_reference_profile(md5),
        )
    except BentoBuildError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(
        "%s %s -> bento %s (%s)",
        ref.model_uri,
        ",".join(ref.aliases),
        built.tag,
        "reused" if built.reused else f"built in {built.seconds:.1f} s",
    )
    return dg.MaterializeResult(
        data_version=dg.DataVersion(built.tag),
        metadata={
            "bento_tag": built.tag,
            "model_version": ref.version,
            "registered_model": ref.registered_model,
            "aliases": ", ".join(ref.aliases),
            "mlflow_run_id": ref.run_id,
            "bentoml_model_tag": built.model_tag,
            "threshold": threshold,
            "reference_profile_version": md5,
            "dockerfile": dg.MetadataValue.path(str(built.dockerfile)),
            "bento_path": dg.MetadataValue.path(str(built.path)),
            "size_bytes": built.size_bytes,
            "reused": built.reused,
            "seconds": round(built.seconds, 2),
            "serve_command": dg.MetadataValue.md(f"```\n{built.serve_command}\n```"),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The `bento` asset and the resources it uses (`mlflow`, `bentoml`)."""
    return dg.Definitions(
        assets=[bento],
    )
