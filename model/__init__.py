"""Attention Explorer's model layer: torch + numpy, never Qt.

The pieces: :class:`~model.core.config.ModelConfig` and :class:`~model.core.transformer.Transformer`
(attention written out, internals captured by name), :class:`~model.core.trace.Trace` (one
immutable record per forward pass), :class:`~model.tracer.runner.TracingModel` (text → Trace),
:mod:`model.core.sampling` (temperature, top-k, top-p), :mod:`model.teaching.lessons` (the source
documents' worked examples).
"""

from model.core.config import ModelConfig
from model.core.errors import EmptyInputError, ModelFileError

__all__ = ["ModelConfig", "EmptyInputError", "ModelFileError", "Trace", "load_tracing_model"]


def __getattr__(name: str):
    # Trace on first use: it imports NumPy, and the app's window shows before NumPy is
    # imported (any ``import model.…`` runs this file first).
    if name == "Trace":
        from model.core.trace import Trace

        return Trace
    if name == "load_tracing_model":  # imports torch: not on the window's start-up path
        from model.loading import load_tracing_model

        return load_tracing_model
    raise AttributeError(f"module 'model' has no attribute {name!r}")
