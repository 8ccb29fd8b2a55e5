"""Small projects that are not flight delays, for the training block's tests.

Each is a real project folder (``pyproject.toml`` with ``[tool.twelve]``, a Feast and a bento
folder) whose contract lives here, with a seeded synthetic training set:

- ``regression``: house prices (``price`` from ``size``, ``rooms`` and ``district``), no
  baseline column: the naive baseline is the training mean;
- ``prefixed``: clicks (a 0/1 label), asset prefix ``demo``, its own registered model.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from twelve.features.columns import ColumnSpec
from twelve.features.contract import Contract, month_column

MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
DISTRICTS = ("north", "south", "east")

REGRESSION = Contract(
    name="house_price",
    id=ColumnSpec("house_id", "str", unique=True),
    timestamp=ColumnSpec("listed_at", "datetime64[ns, UTC]"),
    period=month_column("listed_month"),
    request=(
        ColumnSpec("size", "float64", min_value=0),
        ColumnSpec("rooms", "int64", min_value=0),
        ColumnSpec("district", "str", categories=DISTRICTS),
    ),
    entity=(ColumnSpec("district_recent_price", "float64", nullable=True),),
    label=ColumnSpec("price", "float64"),
)

CLICKS = Contract(
    name="clicks",
    id=ColumnSpec("impression_id", "str", unique=True),
    timestamp=ColumnSpec("shown_at", "datetime64[ns, UTC]"),
    period=month_column("shown_month"),
    request=(ColumnSpec("position", "float64"), ColumnSpec("segment", "str")),
    entity=(ColumnSpec("segment_ctr", "float64", nullable=True),),
    label=ColumnSpec("clicked", "int64", min_value=0, max_value=1),
)


def _frame(
    contract: Contract, rows_per_month: int, seed: int
) -> tuple[pd.DataFrame, np.random.Generator]:
    rng = np.random.default_rng(seed)
    rows = rows_per_month * len(MONTHS)
    months = np.repeat(MONTHS, rows_per_month)
    frame = pd.DataFrame(
        {
            contract.id.name: [f"r{i}" for i in range(rows)],
            contract.timestamp.name: pd.to_datetime([f"{m}-15" for m in months], utc=True),
            contract.period.name: months,
        }
    )
    return frame, rng


def regression_frame(rows_per_month: int = 150, seed: int = 0) -> pd.DataFrame:
    """House listings: the price follows size, rooms and district, with noise."""
    frame, rng = _frame(REGRESSION, rows_per_month, seed)
    rows = len(frame)
    frame["size"] = rng.uniform(30, 200, rows)
    frame["rooms"] = rng.integers(1, 6, rows).astype("int64")
    frame["district"] = rng.choice(DISTRICTS, rows)
    premium = frame["district"].map({"north": 40.0, "south": 0.0, "east": 15.0})
    frame["price"] = 2.0 * frame["size"] + 8.0 * frame["rooms"] + premium + rng.normal(0, 10, rows)
    frame["district_recent_price"] = (300.0 + premium).where(rng.uniform(size=rows) > 0.1)
    return frame


def clicks_frame(rows_per_month: int = 200, seed: int = 1) -> pd.DataFrame:
    """Impressions: the top positions and one segment are clicked more often."""
    frame, rng = _frame(CLICKS, rows_per_month, seed)
    rows = len(frame)
    frame["position"] = rng.integers(1, 10, rows).astype("float64")
    frame["segment"] = rng.choice(["a", "b", "c"], rows)
    logit = 1.5 - 0.45 * frame["position"] + (frame["segment"] == "a") * 1.2
    frame["clicked"] = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame["segment_ctr"] = frame["segment"].map({"a": 0.5, "b": 0.3, "c": 0.3})
    return frame


def write_project(root: Path, name: str, problem_type: str, contract: str, prefix: str) -> Path:
    """A project folder named ``name`` under ``root``; returns its folder."""
    folder = root / name
    for sub in ("feature_repo", "bento"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [tool.dg.project]
            root_module = "{name}"
            code_location_name = "{name}"

            [tool.twelve]
            problem_type = "{problem_type}"
            contract = "training_block_support:{contract}"
            feature_repo = "feature_repo"
            feature_service = "{name}_v1"
            bento = "bento"
            registered_model = "{name}_model"
            data_folder = "{name}"
            asset_prefix = "{prefix}"
            months = ["{MONTHS[0]}", "{MONTHS[-1]}"]
            """
        )
    )
    return folder


def training_attributes(
    estimator: str, params: dict, registered_model: str, required_score: float, **extra
) -> dict:
    """The attributes of a Training block (what a project's defs.yaml holds)."""
    return {
        "holdout": {"month": MONTHS[-1]},
        "training": {
            "first_month": MONTHS[0],
            "last_month": MONTHS[3],
            "seed": 3,
            "importance_sample_rows": 100,
            "threads": 1,
        },
        "pipelines": {
            "main": {
                "asset_suffix": "",
                "registered_model": registered_model,
                "estimator": estimator,
                "params": params,
            },
        },
        "evaluation": {"required_score": required_score},
        "promotion": {"promotion_margin": 0.0},
        **extra,
    }
