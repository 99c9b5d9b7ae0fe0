"""8- and 16-bit weights after a load, on the model thread (Qt-free): the float32 model is shown
first, its smaller weights are built in short steps between traces
(:meth:`model.tracer.runner.TracingModel.precision_job`), then their fidelity is measured; the
engine reports the new ModelInfo at the end. And :func:`exactly`: a long job's steps run with
float32's products, for analyses whose numbers are taught."""

from __future__ import annotations

import traceback


class PrecisionUpgrade:
    """The engine's pending or running conversion: at most one, for the current load."""

    def __init__(self, on_done, on_error, describe_error) -> None:
        self._on_done, self._on_error, self._describe = on_done, on_error, describe_error
        self._wanted: tuple[int, str, str] | None = None  # (load id, source, precision)
        self._job: tuple[int, str, object] | None = None  # (load id, source, steps)

    @property
    def running(self) -> bool:
        return self._job is not None

    def clear(self) -> None:
        self._wanted = self._job = None

    def want(self, load_id: int, source: str, precision: str | None) -> None:
        """What the load asked for (None: nothing to do after it)."""
        self._wanted = None if precision is None else (load_id, source, precision)

    def start(self, model, load_id: int) -> None:
        """Start the steps once ``model`` (the torch one) is in place for ``load_id``."""
        wanted, self._wanted = self._wanted, None
        if wanted is None or wanted[0] != load_id or not hasattr(model, "precision_job"):
            return
        _, source, precision = wanted
        self._job = (load_id, source, model.precision_job(precision))

    def step(self) -> None:
        load_id, source, steps = self._job
        try:
            _done, _total, result = next(steps)
        except StopIteration:  # nothing to do ("auto" on a small model)
            self._job = None
            return
        except Exception as exc:  # the float32 model stays; say why
            self._job = None
            traceback.print_exc()
            self._on_error("precision", load_id, self._describe(exc))
            return
        if result is not None:
            self._job = None
            from explorer.runtime import configure_torch

            configure_torch(result.module.num_parameters(), result.precision)  # one thread at 8/16 bits
            self._on_done(load_id, result.info(source=source))


def exactly(model, steps):
    """A long job's steps, each run with float32's products (TracingModel.exact)."""
    while True:
        with model.exact():
            try:
                item = next(steps)
            except StopIteration:
                return
        yield item
