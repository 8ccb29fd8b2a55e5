"""Point-in-time correctness: a feature value stamped after a flight's departure is never used.

Hand-made feature tables put rows just before, exactly at, and just after each flight's
``event_timestamp`` (and beyond the views' TTLs); the join must pick the latest row at or before
the event within the TTL, and nothing later. Checked on the platform's join alone (fast), then on
a temporary copy of the real Feast repo with its own registry, against Feast's own join too.
"""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from feast_support import (
    carrier_table,
    flight_events,
    make_resource,
    plane_table,
    weather_table,
    write_tables,
)

from flight_delays.contract import FEATURE_SERVICE
from twelve.features.point_in_time import ViewSpec, point_in_time_join

WEATHER = weather_table(
    [
        ("JFK", "2013-03-05 13:00", 40),
        ("JFK", "2013-03-05 14:00", 41),  # latest before F1 (14:30): used
        ("JFK", "2013-03-05 14:31", 99),  # one minute AFTER F1: must never be used
        ("JFK", "2013-03-05 15:00", 98),
        ("LGA", "2013-03-05 14:00", 50),  # 4 h before F3: beyond the 3 h TTL
        ("LGA", "2013-03-05 18:01", 97),  # after F3
        ("EWR", "2013-03-05 15:00", 31),  # exactly at F4, exactly 3 h before F5
    ]
)
PLANES = plane_table(
    [
        ("N1", "2013-01-01 00:00", 100),  # static: valid however old (TTL 0 = never expires)
        ("N3", "2013-06-01 00:00", 300),  # stamped after every flight: never used
    ]
)
CARRIERS = carrier_table(
    [
        ("AA", "2013-03-05 05:00", 0.2),  # start of local day 2013-03-05
        ("AA", "2013-03-06 05:00", 0.9),  # next day: after every flight
        ("UA", "2013-03-01 05:00", 0.3),  # 4.5 days before F3: beyond the 3-day TTL
        ("UA", "2013-03-05 18:00:01", 0.99),  # one second after F3
    ]
)
# (flight_id, event_timestamp UTC, origin, carrier, tailnum), deliberately not in time order.
FLIGHTS = [
    ("F5", "2013-03-05 18:00", "EWR", "AA", "N1"),
    ("F1", "2013-03-05 14:30", "JFK", "AA", "N1"),
    ("F3", "2013-03-05 18:00", "LGA", "UA", "N2"),
    ("F4", "2013-03-05 15:00", "EWR", "AA", "N3"),
]
# F2 shares origin, carrier and timestamp with F1: a distinct flight all the same.
COLLIDING = ("F2", "2013-03-05 14:30", "JFK", "AA", "N2")
EXPECTED = pd.DataFrame(
    {
        "flight_id": ["F5", "F1", "F3", "F4"],
        "temp": [31.0, 41.0, np.nan, 31.0],
        "plane_seats": [100.0, 100.0, np.nan, np.nan],
        "carrier_late_rate_28d": [0.2, 0.2, np.nan, 0.2],
    }
)


def _views(paths: dict) -> list[ViewSpec]:
    return [
        ViewSpec("weather_hourly", str(paths["weather_features"]), ("origin",), "event_timestamp",
                 timedelta(hours=3), ("temp",)),
        ViewSpec("plane_attributes", str(paths["plane_features"]), ("tailnum",),
                 "event_timestamp", timedelta(0), ("plane_seats",)),
        ViewSpec("carrier_on_time", str(paths["carrier_features"]), ("carrier",),
                 "event_timestamp", timedelta(days=3), ("carrier_late_rate_28d",)),
    ]  # fmt: skip


def _entities(rows) -> pd.DataFrame:
    return flight_events(rows)[["flight_id", "event_timestamp", "origin", "carrier", "tailnum"]]


def _checked(result: pd.DataFrame) -> pd.DataFrame:
    """The expected columns, with a plain float dtype for comparison."""
    frame = result[EXPECTED.columns].reset_index(drop=True).copy()
    for column in EXPECTED.columns[1:]:
        frame[column] = frame[column].astype("float64")
    return frame


@pytest.fixture
def tables(tmp_path):
    return write_tables(
        tmp_path / "data",
        weather_features=WEATHER,
        plane_features=PLANES,
        carrier_features=CARRIERS,
    )


def test_join_uses_latest_value_known_at_departure_and_never_a_later_one(tables):
    result = point_in_time_join(_entities(FLIGHTS), _views(tables))

    pd.testing.assert_frame_equal(_checked(result), EXPECTED)
    for later_value in (99.0, 98.0, 97.0):  # weather stamped after the flights that could use it
        assert later_value not in result["temp"].tolist()
    assert 0.9 not in result["carrier_late_rate_28d"].tolist()
    assert 0.99 not in result["carrier_late_rate_28d"].tolist()
    assert 300.0 not in result["plane_seats"].tolist()


def test_join_keeps_every_entity_row_in_input_order_even_when_keys_and_time_collide(tables):
    rows = [*FLIGHTS, COLLIDING]

    result = point_in_time_join(_entities(rows), _views(tables))

    assert result["flight_id"].tolist() == [row[0] for row in rows]
    f2 = result.set_index("flight_id").loc["F2"]
    assert f2["temp"] == 41.0  # JFK weather of 14:00, like F1
    assert np.isnan(f2["plane_seats"])  # N2 has no plane row


def test_ttl_bound_is_inclusive_and_one_second_more_expires(tables):
    rows = [
        ("AT", "2013-03-05 18:00:00", "EWR", "AA", "N1"),  # EWR row of 15:00 is exactly 3 h old
        ("PAST", "2013-03-05 18:00:01", "EWR", "AA", "N1"),
    ]

    result = point_in_time_join(_entities(rows), _views(tables)).set_index("flight_id")

    assert result.loc["AT", "temp"] == 31.0
    assert np.isnan(result.loc["PAST", "temp"])


def test_join_names_a_missing_join_key(tables):
    entities = _entities(FLIGHTS).drop(columns=["tailnum"])

    with pytest.raises(ValueError, match=r"join key\(s\) \['tailnum'\].*plane_attributes"):
        point_in_time_join(entities, _views(tables))


def test_ambiguous_source_rows_are_refused_naming_the_view(tmp_path):
    doubled = pd.concat([WEATHER, WEATHER.iloc[[0]].assign(temp=-1.0)])
    tables = write_tables(
        tmp_path / "data",
        weather_features=doubled,
        plane_features=PLANES,
        carrier_features=CARRIERS,
    )

    with pytest.raises(ValueError, match=r"weather_hourly.*share join keys and timestamp"):
        point_in_time_join(_entities(FLIGHTS), _views(tables))


# ------------------------------------------------------------------ the real repo, a real registry


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """A temporary copy of feature_repo/ applied to its own registry over the tiny tables."""
    root = tmp_path_factory.mktemp("pit_repo")
    write_tables(
        root / "data",
        weather_features=WEATHER,
        plane_features=PLANES,
        carrier_features=CARRIERS,
    )
    resource = make_resource(root)
    resource.apply()
    return root


@pytest.mark.slow
def test_real_feature_service_is_point_in_time_correct(applied):
    resource = make_resource_on(applied)

    result = resource.historical_features(_entities(FLIGHTS), FEATURE_SERVICE)

    pd.testing.assert_frame_equal(_checked(result), EXPECTED)
    assert 99.0 not in result["temp"].tolist()


# Rows Feast 0.67's file store handles: every key either has a row within the TTL or none at all.
FEAST_SAFE_FLIGHTS = [
    FLIGHTS[0],  # F5
    FLIGHTS[1],  # F1
    ("F6", "2013-03-05 15:10", "JFK", "AA", "N1"),
    ("F7", "2013-03-05 16:20", "JFK", "ZZ", "N9"),  # carrier and plane unknown to the sources
]


@pytest.mark.slow
def test_platform_join_matches_feasts_own_join(applied):
    """Feast's file offline store is the reference semantics; both must give the same values."""
    entities = _entities(FEAST_SAFE_FLIGHTS)
    ours = make_resource_on(applied).historical_features(entities, FEATURE_SERVICE)
    feasts = make_resource_on(applied, offline_join="feast").historical_features(
        entities, FEATURE_SERVICE
    )

    feasts = feasts.set_index("flight_id").loc[ours["flight_id"]].reset_index()
    assert ours["temp"].tolist()[:3] == [31.0, 41.0, 98.0]

    # Missing text is NaN in one and None in the other: the same null once written to parquet.
    def nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype(object).where(frame.notna(), None)

    pd.testing.assert_frame_equal(nulls_as_none(ours[feasts.columns]), nulls_as_none(feasts))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rows", "returned"),
    [
        # Two flights sharing origin, carrier and departure time (feast-dev/feast#6787).
        ([FLIGHTS[1], COLLIDING], 1),
        # A flight whose airport has weather rows, none within the TTL before departure: the
        # file store filters the joined candidates and the flight goes with them.
        ([FLIGHTS[2]], 0),
    ],
    ids=["shared-keys-and-time", "no-row-within-ttl"],
)
def test_losing_entity_rows_fails_loudly(applied, rows, returned):
    """Feast 0.67's file store drops such flights; the resource refuses the smaller result.

    If this test starts failing because Feast returns every row, the bugs are fixed upstream and
    ``offline_join="feast"`` can be reconsidered for the local profile.
    """
    resource = make_resource_on(applied, offline_join="feast")

    with pytest.raises(RuntimeError, match=rf"returned {returned} rows for {len(rows)} entity"):
        resource.historical_features(_entities(rows), FEATURE_SERVICE)


def make_resource_on(root, **kwargs):
    """A resource on an already applied copy (``root`` from the ``applied`` fixture)."""
    from twelve.features.feast import FeastResource

    return FeastResource(
        repo_path=str(root / "feature_repo"),
        data_dir=str(root / "data"),
        state_dir=str(root / "home"),
        **kwargs,
    )
