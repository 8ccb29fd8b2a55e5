"""Explicit feature dependencies (factor 2): contracts, dbt, Feast, training sets."""
