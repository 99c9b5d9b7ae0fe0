"""Attention Explorer's model layer: torch + numpy, never Qt.

The pieces: :class:`~model.config.ModelConfig` and :class:`~model.transformer.Transformer`
(attention written out, internals captured by name), :class:`~model.trace.Trace` (one
immutable record per forward pass), :class:`~model.runner.TracingModel` (text → Trace),
:mod:`model.sampling` (temperature, top-k, top-p), :mod:`model.lessons` (the source
documents' worked examples).
"""

from model.config import ModelConfig
from model.errors import EmptyInputError, ModelFileError
from model.trace import Trace

__all__ = ["ModelConfig", "EmptyInputError", "ModelFileError", "Trace"]
