"""The golden-path runner materializes what is stale or missing, and skips what is fresh."""

import dagster as dg

from twelve.cli.runner import run_golden_path

CALLS: list[str] = []
SOURCE = {"value": 1}
months = dg.StaticPartitionsDefinition(["2013-01", "2013-02"])


@dg.asset(partitions_def=months)
def arriving(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    CALLS.append(f"arriving[{context.partition_key}]")
    return dg.MaterializeResult(data_version=dg.DataVersion("v1"))


@dg.asset
def source() -> dg.MaterializeResult:
    CALLS.append("source")
    return dg.MaterializeResult(data_version=dg.DataVersion(str(SOURCE["value"])))


@dg.asset(deps=[source, arriving], code_version="1")
def downstream() -> None:
    CALLS.append("downstream")


def _defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[arriving, source, downstream],
        jobs=[
            dg.define_asset_job("arrival", selection=[arriving], partitions_def=months),
            dg.define_asset_job("main", selection=[source, downstream]),
        ],
    )


def _run(instance):
    CALLS.clear()
    return run_golden_path(
        _defs(),
        instance,
        partitioned_job="arrival",
        partitions=["2013-01", "2013-02"],
        main_job="main",
    )


def test_a_second_run_with_nothing_changed_skips_downstream_work():
    instance = dg.DagsterInstance.ephemeral()
    SOURCE["value"] = 1
    first = _run(instance)
    assert "downstream" in CALLS
    assert len(first.steps) == 4

    second = _run(instance)
    # Root assets re-ingest (that is how new data is noticed), nothing downstream re-runs.
    assert "downstream" not in CALLS
    assert "downstream" in second.skipped
    assert CALLS.count("source") == 1


def test_a_changed_source_version_makes_downstream_run_again():
    instance = dg.DagsterInstance.ephemeral()
    SOURCE["value"] = 1
    _run(instance)
    SOURCE["value"] = 2
    _run(instance)
    assert "downstream" in CALLS
