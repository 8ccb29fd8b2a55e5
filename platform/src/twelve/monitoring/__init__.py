"""Profiles, data reports, drift and skew (factors 6, 8, 9, 11)."""
