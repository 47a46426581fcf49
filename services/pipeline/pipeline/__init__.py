"""The recommender's training pipeline: one CLI, `python -m pipeline <step> ...` (see README.md)."""
