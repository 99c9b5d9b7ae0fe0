"""Room for a panel's chart and what it says while it waits (docs/layout.md): the least
height a chart keeps, and the note shown in its place before the first trace."""

from __future__ import annotations

#: a panel's chart is never shorter than this many lines of its text (docs/layout.md): below
#: it the tab scrolls up and down instead
MIN_VIEW_LINES = 5


def keep_readable(view, theme, lines: float = MIN_VIEW_LINES) -> None:
    """The view's minimum height: ``lines`` lines of the theme's text."""
    from PySide6.QtGui import QFontMetricsF

    view.setMinimumHeight(int(lines * QFontMetricsF(theme.font()).height()) + 2)


def waiting_note():
    """A large centred line shown in a chart's place until the first trace arrives: during a
    model's first load (SmolLM2's takes 15–30 s) the charts were empty −1…1 axes."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QLabel, QSizePolicy

    note = QLabel(QCoreApplication.translate("Panel", "Waiting for the model… (the status line says what it is doing)"))
    note.setAlignment(Qt.AlignCenter)
    note.setWordWrap(True)
    note.setObjectName("waitingNote")
    note.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
    return note


def waiting_text(info) -> str:
    """What the waiting note says: loading, or tracing once the model is known."""
    from PySide6.QtCore import QCoreApplication

    if info is None:  # loading, or a load failed: the status line and the banner say which
        return QCoreApplication.translate("Panel", "Waiting for the model… (the status line says what it is doing)")
    from explorer.views.labels import model_name

    return QCoreApplication.translate("Panel", "{model} is loaded: tracing the text…").format(model=model_name(info.name))


def label_rows(axis, labels: list[str], view_width: float, font) -> None:
    """One label a row on a left axis as wide as the widest label (up to a third of the
    view): pyqtgraph drops a label wider than its axis, which left next-token bars unnamed
    (' everyone' after SmolLM2's "gave a drink to"). ``font``: the labels' font when the
    axis has none set."""
    from PySide6.QtGui import QFontMetricsF

    metrics = QFontMetricsF(axis.style["tickFont"] or font)
    widest = max((metrics.horizontalAdvance(label) for label in labels), default=0.0)
    width = int(min(widest + 12, max(60.0, view_width / 3)))
    if abs(width - axis.width()) > 2:
        axis.setWidth(width)
    axis.setTicks([list(enumerate(labels))])
