"""The serving runtime a bento service uses (factors 2, 9, 11)."""
