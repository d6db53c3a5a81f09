"""Training, calibration, evaluation and packaging of the churn model."""
