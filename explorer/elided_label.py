"""A label that gives up width gracefully: past its room it ends in "…" (the whole text in
its tooltip) instead of being cut mid-word or widening the window. The status line's model
name ("SmolLM2-135M-Instruct (Q4_1) · 30×9 heads · dequantized weights (hover for more)")
ran off a 1280-pixel window at 20-point text."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._tip = ""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(min(super().minimumSizeHint().width(), self.fontMetrics().horizontalAdvance("xxxxxxxx…")),
                     super().minimumSizeHint().height())

    def setToolTip(self, tip: str) -> None:  # noqa: N802 (Qt API)
        self._tip = tip
        super().setToolTip(tip)

    def elided(self) -> str:
        """The text as drawn at the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.ElideRight, max(1, self.contentsRect().width()))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        shown = self.elided()
        # a cut text's tooltip holds all of it (with the tooltip given, if any)
        tip = self._tip if shown == self.text() else "\n".join(t for t in (self.text(), self._tip) if t)
        if super().toolTip() != tip:
            super().setToolTip(tip)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment() | Qt.AlignVCenter), shown)
