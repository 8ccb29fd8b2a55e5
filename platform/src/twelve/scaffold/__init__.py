"""``twelve new``: projects generated from the platform's template."""
