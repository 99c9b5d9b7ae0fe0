"""Errors that name the file and the problem, so the app can show them to a person."""

from __future__ import annotations

from pathlib import Path


class ModelFileError(Exception):
    """A model, weight or tokenizer file is missing, corrupt or does not match.

    ``path`` is the file (or folder) at fault, ``key`` the config key or tensor name in it
    when there is one; the message names both.
    """

    def __init__(self, path: str | Path, problem: str, key: str | None = None) -> None:
        self.path = Path(path)
        self.key = key
        if key is not None and key not in problem:
            problem = f"{key}: {problem}"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class EmptyInputError(ValueError):
    """The text produced no tokens and the model has no BOS token to start from."""
