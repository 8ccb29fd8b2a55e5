"""The flight-delay project: a Dagster code location (:mod:`flight_delays.definitions`)."""
