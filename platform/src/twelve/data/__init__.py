"""Data versioning (factor 1): raw data as DVC versions."""
