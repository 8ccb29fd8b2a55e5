"""The bento asset (factor 12): every aliased model version of a project, built into a bento.

One bento per version holding a deployable alias (the champion and the challenger, each once):
``bentoml build`` of the project's service folder with that version's fitted pipeline, its
compiled form (checked against it on the version's whole holdout: a bento that fails parity is
refused), its feature contract and its training set's reference profile inside. Each bento's tag
is recorded on its model version (tag ``bento_tag``, what ``twelve serve`` reads). Built once per
version and code: a re-run with nothing new reuses them. With the ``image`` option on, the
champion's bento is also built into an OCI image (podman) whose id is recorded on its version.
"""

# No `from __future__ import annotations`: Dagster inspects the real `context` annotation.

from typing import Any

import dagster as dg
from pydantic import Field

from twelve.core import tags
from twelve.core.config import config_annotation
from twelve.core.project import Project
from twelve.data.versioning import DvcResource
from twelve.deploy.bento import BentoBuildError, BentoResource, BuiltBento
from twelve.training.tracking import MlflowResource


class BentoConfig(dg.Config):
    """Which model versions become bentos, and where their facts are recorded."""

    registered_model: str = Field(description="MLflow registered model to deploy.")
    aliases: list[str] = Field(
        default=["champion", "challenger"],
        description="Aliases that make a version deployable: each such version gets a bento.",
    )
    threshold_key: str = Field(
        default="threshold",
        description="Version tag, run tag or run param holding the decision threshold "
        "(classification only).",
    )
    training_set_version_key: str = Field(
        default="twelve.training_set_md5",
        description="Version tag, run tag or run param holding the training set's md5.",
    )
    image: bool = Field(
        default=False,
        description="Also build the champion's bento into an OCI image with podman (`twelve "
        "image`, twelve.deploy.container) and record its id on the model version; off by "
        "default (about 2 minutes the first time, seconds when its layers are cached).",
    )


def _reference_profile(dataset: str, md5: str):
    from twelve.monitoring.profiling import ProfileStore

    path = ProfileStore().path_of(dataset, md5)
    if not path.is_file():
        raise BentoBuildError(
            f"no reference profile of {dataset} at version {md5} ({path}): materialize the "
            "profile of the training set this model was trained on"
        )
    return path


def build_bentos(
    project: Project,
    config: BentoConfig,
    mlflow: MlflowResource,
    bentoml: BentoResource,
    dvc: DvcResource,
    reference_dataset: str,
) -> list[tuple[Any, BuiltBento, float | None]]:
    """A bento for every aliased version: ``(version, built bento, threshold)``, champion first.

    Raises:
        BentoBuildError: no version is deployable, or a step of one of them failed.
    """
    from twelve.deploy import registry

    client = mlflow.client()
    contract = project.contract.model_input_dict()
    built = []
    for ref in registry.aliased_versions(client, config.registered_model, config.aliases):
        threshold = None
        if project.problem_type == "classification":
            threshold = float(registry.run_value(client, ref, config.threshold_key))
        md5 = registry.run_value(client, ref, config.training_set_version_key)
        bento = bentoml.package(
            service_dir=project.bento_dir,
            client=client,
            tracking_uri=mlflow.resolved_tracking_uri(),
            ref=ref,
            threshold=threshold,
            contract=contract,
            reference_profile=_reference_profile(reference_dataset, md5),
            dvc=dvc,
        )
        built.append((ref, bento, threshold))
    return built


def build_champion_image(
    config: BentoConfig,
    mlflow: MlflowResource,
    bentoml: BentoResource,
    built: list[tuple[Any, BuiltBento, float | None]],
) -> dict[str, Any]:
    """The champion's image (when ``config.image``), recorded on its version: its metadata.

    Raises:
        twelve.deploy.container.ContainerError: podman is missing or the build failed.
    """
    from twelve.deploy import container

    champions = [(ref, bento) for ref, bento, _ in built if "champion" in ref.aliases]
    if not config.image or not champions:
        return {}
    ref, bento = champions[0]
    image = container.build_image(bento.tag, bentoml.resolved_home())
    container.record_image(mlflow.client(), ref.registered_model, ref.version, image)
    return {
        "image": image.name,
        "image_id": image.image_id[:12],
        "image_size_bytes": image.size_bytes,
        "image_seconds": round(image.seconds, 1),
        "image_run_command": dg.MetadataValue.md(f"```\n{image.run_command()}\n```"),
    }


def _metadata(built: list[tuple[Any, BuiltBento, float | None]]) -> dict[str, Any]:
    """What others read (of the first: the champion when there is one), and every bento."""
    ref, bento, threshold = built[0]
    return {
        "bento_tag": bento.tag,
        "model_version": ref.version,
        "registered_model": ref.registered_model,
        "aliases": ", ".join(ref.aliases),
        "mlflow_run_id": ref.run_id,
        "bentoml_model_tag": bento.model_tag,
        **({} if threshold is None else {"threshold": threshold}),
        "dockerfile": dg.MetadataValue.path(str(bento.dockerfile)),
        "bento_path": dg.MetadataValue.path(str(bento.path)),
        "size_bytes": bento.size_bytes,
        "reused": all(b.reused for _, b, _ in built),
        "seconds": round(sum(b.seconds for _, b, _ in built), 2),
        "serve_command": dg.MetadataValue.md(f"```\n{bento.serve_command}\n```"),
        "bentos": dg.MetadataValue.json([_summary(r, b) for r, b, _ in built]),
    }


def _summary(ref: Any, bento: BuiltBento) -> dict[str, Any]:
    return {
        "model_version": ref.version,
        "aliases": list(ref.aliases),
        "bento_tag": bento.tag,
        "bentoml_model_tag": bento.model_tag,
        "reused": bento.reused,
    }


def bento_asset(
    project: Project,
    config_class: type[BentoConfig],
    deps: list[str],
    reference_dataset: str,
    group: str,
) -> dg.AssetsDefinition:
    """The project's ``bento`` asset (key ``project.key("bento")``), after ``deps``."""

    @dg.asset(
        key=project.key("bento"),
        deps=[project.key(name) for name in deps],
        group_name=group,
        code_version="2",
        kinds={"bentoml"},
        tags=tags.role(tags.BENTO),
        description=__doc__.split("\n\n", 1)[1].strip(),
    )
    @config_annotation(config_class)
    def bento(
        context: dg.AssetExecutionContext,
        config: BentoConfig,
        mlflow: MlflowResource,
        bentoml: BentoResource,
        dvc: DvcResource,
    ) -> dg.MaterializeResult:
        from twelve.deploy.container import ContainerError

        try:
            built = build_bentos(project, config, mlflow, bentoml, dvc, reference_dataset)
            image = build_champion_image(config, mlflow, bentoml, built)
        except (BentoBuildError, ContainerError) as error:
            raise dg.Failure(description=str(error)) from error
        for ref, made, _ in built:
            how = "reused" if made.reused else f"built in {made.seconds:.1f} s"
            context.log.info("%s %s -> bento %s (%s)", ref.model_uri, ",".join(ref.aliases),
                             made.tag, how)  # fmt: skip
        return dg.MaterializeResult(
            data_version=dg.DataVersion(",".join(made.tag for _, made, _ in built)),
            metadata={**_metadata(built), **image},
        )

    return bento
