"""Partitions of the flight-delay project: the flight data arrives one month at a time."""

import dagster as dg

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")
