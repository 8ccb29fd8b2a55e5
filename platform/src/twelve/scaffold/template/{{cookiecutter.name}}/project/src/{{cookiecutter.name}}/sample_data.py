{% set keys = cookiecutter.entity_keys.split(",") -%}
"""A small deterministic sample data set: a PLACEHOLDER for the team's own source.

Each row is one event of an entity ({{ cookiecutter.entity_keys }}) at a UTC time, with a request
feature known when the event happens (``amount``), a count (``visits``) and the label
(``label``: {% if cookiecutter.problem_type == "classification" %}0/1{% else %}a float{% endif %}). The label depends on the entity's recent history, so the
Feast features carry signal. Replace ``make_events`` with a reader of the real source and keep its
columns, or change the dbt models, the Feast view and the contract in the same change.
"""

import numpy as np
import pandas as pd

ENTITY_KEYS = ({% for key in keys %}"{{ key }}"{% if not loop.last %}, {% endif %}{% endfor %}{% if keys|length == 1 %},{% endif %})
PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"
DEFAULT_ROWS = {{ cookiecutter.sample_rows }}
START = pd.Timestamp("2024-01-01", tz="UTC")
DAYS = 90
# About 25 entities in all (combinations of the keys), so each has a history of ~80 events.
ENTITIES_PER_KEY = max(2, round(25 ** (1 / len(ENTITY_KEYS))))


def make_events(rows: int = DEFAULT_ROWS, seed: int = 0) -> pd.DataFrame:
    """The sample events, the same for the same ``rows`` and ``seed``.

    Args:
        rows: Number of events (at least 50).
        seed: Random seed.

    Returns:
        Columns event_id (str), the entity keys (str), event_timestamp (UTC), amount (float64),
        visits (int64), label ({% if cookiecutter.problem_type == "classification" %}int64 0/1{% else %}float64{% endif %}), sorted by event_timestamp.
    """
    if rows < 50:
        raise ValueError(f"rows must be at least 50, got {rows}")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"event_id": [f"e{i:07d}" for i in range(rows)]})
    for key in ENTITY_KEYS:
        frame[key] = [f"{key}_{n:03d}" for n in rng.integers(0, ENTITIES_PER_KEY, rows)]
    seconds = rng.integers(0, DAYS * 86_400, rows)
    frame["event_timestamp"] = START + pd.to_timedelta(seconds, unit="s")
    # Each entity has a fixed propensity (from its numbers): its recent history reveals it.
    numbers = sum(frame[key].str.rsplit("_", n=1).str[1].astype("int64") for key in ENTITY_KEYS)
    propensity = (numbers % 10) / 10.0
    frame["amount"] = np.round(np.clip(20 + 80 * propensity + rng.normal(0, 10, rows), 0, None), 2)
    frame["visits"] = rng.poisson(1 + 4 * propensity).astype("int64")
    signal = 2.5 * propensity + 0.01 * (frame["amount"] - 60) + rng.normal(0, 0.4, rows)
{%- if cookiecutter.problem_type == "classification" %}
    frame["label"] = (signal > 1.4).astype("int64")
{%- else %}
    frame["label"] = np.round(10 * signal, 3).astype("float64")
{%- endif %}
    return frame.sort_values("event_timestamp", ignore_index=True)
