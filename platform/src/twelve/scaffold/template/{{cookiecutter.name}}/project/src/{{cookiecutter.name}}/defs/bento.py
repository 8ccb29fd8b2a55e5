"""Deployable artifact (factor 12): the aliased model version, built into a servable bento.

The platform does the work (``twelve.deploy.bento``); this area says which model, which service
folder
(``bentos/{{ cookiecutter.name }}``), and where the version's facts are found.
"""

import dagster as dg
from twelve.deploy import bento as bentos
from twelve.deploy.bento import BentoBuildError, BentoResource
from twelve.monitoring.profiling import ProfileStore
from twelve.training.tracking import MlflowResource

from {{ cookiecutter.name }} import resources
from {{ cookiecutter.name }}.config import BentoConfig
from {{ cookiecutter.name }}.paths import (
    ASSET_PREFIX,
    BENTO_DIR,
    TRAINING_SET_DATASET,
    asset_key,
)


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("model_alias"), asset_key("training_set_profile")],
    group_name="deployment",
    kinds={"bentoml"},
    code_version="1",
)
def bento(
    context: dg.AssetExecutionContext,
    config: BentoConfig,
    mlflow: MlflowResource,
    bentoml: BentoResource,
) -> dg.MaterializeResult:
    """The servable artifact of the newest model version that carries an alias.

    `bentoml build` of the project's service folder (`bentos/<project>`) with that version's
    fitted Pipeline, its feature contract and its training set's reference profile inside; the
    container recipe `env/docker/Dockerfile` stays in the bento. Built once per model version and
    service code.
    """
    client = mlflow.client()
    try:
        ref = bentos.latest_aliased_version(client, config.registered_model, config.aliases)
        md5 = bentos.run_value(client, ref, config.training_set_version_key)
        built = bentoml.package(
            service_dir=BENTO_DIR,
            client=client,
            tracking_uri=mlflow.resolved_tracking_uri(),
            ref=ref,
{%- if cookiecutter.problem_type == "classification" %}
            threshold=float(bentos.run_value(client, ref, config.threshold_key)),
{%- else %}
            threshold=None,  # a regressor answers a value: no decision threshold
{%- endif %}
            contract=bentos.contract_description(config.contract),
            reference_profile=ProfileStore().path_of(TRAINING_SET_DATASET, md5),
        )
    except BentoBuildError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info("%s -> bento %s (reused: %s)", ref.model_uri, built.tag, built.reused)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(built.tag),
        metadata={
            "bento_tag": built.tag,
            "bentoml_model_tag": built.model_tag,
            "model_version": ref.version,
            "aliases": ", ".join(ref.aliases),
            "dockerfile": dg.MetadataValue.path(str(built.dockerfile)),
            "seconds": round(built.seconds, 2),
            "serve_command": dg.MetadataValue.md(f"```\n{built.serve_command}\n```"),
        },
    )


def defs() -> dg.Definitions:
    """The `bento` asset and the resources it uses (`mlflow`, `bentoml`)."""
    return dg.Definitions(
        assets=[bento], resources={"mlflow": resources.mlflow(), "bentoml": resources.bentoml()}
    )
