"""Panels: small widgets that each draw a Trace (``set_trace``) and never call the model.

Importing the package costs nothing: :mod:`explorer.views.registry` (the panels' names, read by
Qt-free lesson files) lives here too. ``TimedView``, ``fixed_plot`` and ``settle`` are
:mod:`explorer.views.plots`' and import pyqtgraph when first asked for."""

_PLOTS = ("TimedView", "fixed_plot", "settle")


def __getattr__(name: str):
    if name in _PLOTS:
        from explorer.views import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'explorer.views' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PLOTS])
