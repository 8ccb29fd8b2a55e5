"""A second project for the blocks' tests: a regression problem with an asset prefix of its own.

``shop`` predicts an order's delivery days from its basket and channel; its data arrives month by
month. It configures the platform's blocks with YAML only (:func:`write_project`), as a project
made by ``twelve new`` does, so a test sees whether anything flight-specific is left in them.
Its training block is a stand-in (:mod:`shop_training`): assets tagged with the roles the
continuous-training loop reads, whose config has the training block's field names.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from twelve.features.columns import ColumnSpec
from twelve.features.contract import Contract, month_column

MONTHS = ("2024-01", "2024-06")
CHANNELS = ("web", "store")
CONTRACT = Contract(
    name="shop",
    id=ColumnSpec("order_id", "str", unique=True),
    timestamp=ColumnSpec("ordered_at", "datetime64[ns, UTC]"),
    period=month_column("order_month"),
    request=(
        ColumnSpec("basket_size", "float64", min_value=0),
        ColumnSpec("channel", "str", categories=CHANNELS),
    ),
    entity=(ColumnSpec("customer_orders_90d", "float64", nullable=True),),
    label=ColumnSpec("delivery_days", "float64"),
    description="An order of the shop.",
)


def orders(month: str, rows: int = 400, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic orders of ``month`` in the training set's layout (``shift`` moves the baskets)."""
    rng = np.random.default_rng(seed + int(month.replace("-", "")))
    start = pd.Timestamp(f"{month}-01", tz="UTC")
    basket = rng.gamma(2.0, 2.0, rows) + shift
    channel = rng.choice(CHANNELS, rows)
    history = rng.poisson(3, rows).astype("float64")
    days = 1 + 0.6 * basket + np.where(channel == "store", 2.0, 0.0) + rng.normal(0, 0.5, rows)
    return pd.DataFrame(
        {
            "order_id": [f"{month}-{i}" for i in range(rows)],
            "ordered_at": start + pd.to_timedelta(rng.integers(0, 27 * 24, rows), unit="h"),
            "order_month": month,
            "basket_size": basket,
            "channel": channel,
            "customer_orders_90d": history,
            "delivery_days": days,
        }
    )


def read_orders(month: str) -> pd.DataFrame:
    """Orders of one month, as the shop's order system exports them."""
    return orders(month).drop(columns=["order_month"])


_PYPROJECT = """
[project]
name = "shop"
version = "0.1.0"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "shop"
code_location_name = "shop"

[tool.twelve]
problem_type = "regression"
contract = "shop_project:CONTRACT"
feature_repo = "feature_repo"
feature_service = "shop_v1"
bento = "bento"
registered_model = "shop"
data_folder = "shop"
asset_prefix = "shop"
months = ["2024-01", "2024-06"]
"""

_DEFS = {
    "resources/defs.yaml": "type: twelve.core.resources.Resources\n",
    "jobs/defs.yaml": "type: twelve.core.jobs.Jobs\n",
    "raw/defs.yaml": """
        type: twelve.data.component.RawData
        attributes:
          sources:
            - asset: raw_orders
              reader: shop_project:read_orders
              file: orders/{month}.parquet
              monthly: true
        """,
    "data_reports/defs.yaml": """
        type: twelve.monitoring.component.DataReports
        attributes:
          sources: [raw_orders]
          sample_rows: 5
        """,
    "continuous_training/defs.yaml": """
        type: twelve.monitoring.component.ContinuousTraining
        attributes:
          drift: {drift_distance: 0.15, exclude_features: [customer_orders_90d]}
          performance: {required_score: 1.0}
          serving_skew: {exclude_features: [customer_orders_90d]}
          sensor: {gap_months: 0, retraining_required_score: 2.5}
          schedule: {cron: "15 * * * *", window_hours: 2.0}
        """,
    "training.py": '''
        """The shop's stand-in training block (tests only)."""

        from shop_training import defs  # noqa: F401
        ''',
}


def write_project(root: Path) -> Path:
    """The shop project under ``root``: pyproject, package and ``defs/`` of YAML; importable.

    Returns:
        The package folder (``definitions`` are loaded from its ``defs/``).
    """
    project = root / "shop"
    package = project / "src" / "shop"
    for folder in ("feature_repo", "bento"):
        (project / folder).mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(_PYPROJECT)
    (package / "defs").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    for name, text in _DEFS.items():
        path = package / "defs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    if str(project / "src") not in sys.path:
        sys.path.insert(0, str(project / "src"))
    return package


def build_defs(package: Path):
    """The shop's code location, loaded from its ``defs/`` folder as Dagster loads it."""
    import dagster as dg

    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        del sys.modules[name]  # a fresh package per test project folder
    return dg.load_from_defs_folder(path_within_project=package)
