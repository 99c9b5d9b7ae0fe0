"""Attention Explorer's model layer: torch + numpy, never Qt.

The pieces: :class:`~model.config.ModelConfig` and :class:`~model.transformer.Transformer`
(attention written out, internals captured by name), :class:`~model.trace.Trace` (one
immutable record per forward pass), :class:`~model.runner.TracingModel` (text → Trace),
:mod:`model.sampling` (temperature, top-k, top-p), :mod:`model.lessons` (the source
documents' worked examples).
"""

from model.config import ModelConfig
from model.errors import EmptyInputError, ModelFileError

__all__ = ["ModelConfig", "EmptyInputError", "ModelFileError", "Trace"]


def __getattr__(name: str):
    # Trace on first use: it imports NumPy, and the app's window shows before NumPy is
    # imported (any ``import model.…`` runs this file first).
    if name == "Trace":
        from model.trace import Trace

        return Trace
    raise AttributeError(f"module 'model' has no attribute {name!r}")
