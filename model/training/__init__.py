"""Rebuilding the bundled teaching model: corpus, token files, n-gram baselines, training,
evaluation and the model card. Run as scripts (``python -m model.training.data`` …); the app
never imports this package (an import-linter contract in pyproject.toml checks it)."""
