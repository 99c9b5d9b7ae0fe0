"""Loading models on the model thread (Qt-free but for translated messages): the bundled
model's NumPy quick start, the torch load, and error messages for a person."""

from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication

from model.core.errors import EmptyInputError, ModelFileError

if TYPE_CHECKING:  # the model code (NumPy; torch, over a second) is imported on the model thread
    from model.tracer.numpy_forward import NumpyTracingModel
    from model.tracer.runner import TracingModel

#: Set to 0 to load the bundled model with torch from the start (no NumPy first traces).
QUICK_START_ENV = "ATTENTION_EXPLORER_QUICK_START"

#: After a quick load the torch model is loaded when :meth:`ModelWorker.load_full_model` is
#: called (the window calls it once the first trace is painted: the import holds the GIL for
#: long stretches, and the paint needs it), or this long (ms) after the quick load.
FULL_LOAD_FALLBACK_MS = 1500


def describe_error(exc: BaseException) -> str:
    """A message for a person: what went wrong and, for files, which file."""
    if isinstance(exc, (ModelFileError, EmptyInputError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return QCoreApplication.translate("ModelWorker", "Not enough memory for this model or text.")
    return f"{type(exc).__name__}: {exc}"


def quick_start(source: str) -> bool:
    """Whether loading ``source`` starts with the NumPy model (no torch on the model thread
    until its first trace is on screen): the bundled model, unless switched off."""
    from model.core.paths import BUNDLED

    return source == BUNDLED and os.environ.get(QUICK_START_ENV, "1").strip() != "0"


def quick_model(source: str) -> NumpyTracingModel | None:
    """The bundled model as a :class:`~model.tracer.numpy_forward.NumpyTracingModel` (no torch), or
    None: another source, quick start switched off, or any problem with the files (the torch
    load that follows then reports it, as it always has)."""
    from model.core.paths import BUNDLED_MODEL_DIR, BUNDLED_NAME

    if not quick_start(source):
        return None
    try:
        from explorer.runtime import configure_numpy
        from model.tracer.numpy_forward import NumpyTracingModel

        configure_numpy()
        return NumpyTracingModel.from_folder(BUNDLED_MODEL_DIR, name=BUNDLED_NAME)
    except Exception:
        traceback.print_exc()
        return None


def load_tracing_model(source: str, precision: str = "float32") -> TracingModel:
    """:func:`model.loading.load_tracing_model`, imported on first use on the model thread:
    it imports torch (over a second, docs/benchmarks.md), which must not delay the window."""
    from explorer.runtime import configure_numpy, configure_torch
    from model.loading import load_tracing_model as load

    configure_numpy()
    configure_torch()
    model = load(source, precision=precision)
    configure_torch(model.module.num_parameters())
    return model
