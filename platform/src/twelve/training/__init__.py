"""Training, tracking, evaluation, promotion and comparison (factors 4, 7, 10)."""
