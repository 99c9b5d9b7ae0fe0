"""What the heads grid draws over its mosaic: knocked-out heads, head badges and a sweep's
effect per head; and the row of controls under it (knock-out mode, sweep, rollout, badges).

The marks are painted by one graphics item (one ``paint()`` for every tile), as
:mod:`explorer.views.matrix_labels` does for cell values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from explorer.views import drawn_text
from explorer.views.flow import FlowLayout
from explorer.views.mosaic import Arrangement, mosaic

if TYPE_CHECKING:  # model.analysis.badges imports torch, which must stay off the path to the first window
    from model.analysis.badges import HeadBadges


class GridMarks(pg.GraphicsObject):
    """A cross over every knocked-out tile and badge letters in each tile's corner."""

    def __init__(self) -> None:
        super().__init__()
        self.n_layers = self.n_heads = self.n_tokens = 0
        self.step = 1
        self.arrangement = Arrangement(0, 0)
        self.knocked: frozenset[tuple[int, int]] = frozenset()
        self.badges: HeadBadges | None = None
        self._marks_of: list[list[str]] = []  # badge_marks(self.badges)[0]
        self.show_badges = True
        self.cross_colour = QColor("#D55E00")
        self.badge_colour = QColor("#ffffff")
        self.badge_back = QColor(0, 0, 0, 170)
        self.font = QFont()

    def set_grid(self, n_layers: int, n_heads: int, n_tokens: int, gap: int,
                 arrangement: Arrangement | None = None) -> None:
        self.prepareGeometryChange()
        self.n_layers, self.n_heads, self.n_tokens, self.step = n_layers, n_heads, n_tokens, n_tokens + gap
        self.arrangement = arrangement or Arrangement(n_layers, n_heads)
        self.update()

    def set_marks(self, knocked, badges: HeadBadges | None, show_badges: bool) -> None:
        if badges is not self.badges:  # the letters per head, once per scoring, not per paint
            self._marks_of = badge_marks(badges)[0] if badges is not None else []
        self.knocked, self.badges, self.show_badges = frozenset(knocked), badges, show_badges
        self.update()

    def set_style(self, cross: QColor, text: QColor, back: QColor, font: QFont) -> None:
        self.cross_colour, self.badge_colour, self.badge_back, self.font = cross, text, back, font
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(-1, -1, self.arrangement.cols * self.step + 2, self.arrangement.rows * self.step + 2)

    def paint(self, painter, *_args) -> None:
        T, step = self.n_tokens, self.step
        if T == 0:
            return
        to_device = painter.transform()
        painter.save()
        painter.resetTransform()
        pen = QPen(self.cross_colour, 3, Qt.DashLine)
        painter.setPen(pen)
        for layer, head in self.knocked:
            if layer >= self.n_layers or head >= self.n_heads:
                continue
            row, col = self.arrangement.place(layer, head)
            a = to_device.map(QPointF(col * step - 0.5, row * step - 0.5))
            b = to_device.map(QPointF(col * step + T - 0.5, row * step + T - 0.5))
            rect = QRectF(a, b).normalized()
            painter.drawRect(rect)
            painter.drawLine(rect.topLeft(), rect.bottomRight())
            painter.drawLine(rect.topRight(), rect.bottomLeft())
        if self.show_badges and self.badges is not None and self.badges.previous_token.shape == (self.n_layers,
                                                                                               self.n_heads):
            marks_of = self._marks_of
            tile = abs(to_device.map(QPointF(T, 0)).x() - to_device.map(QPointF(0, 0)).x())
            font = QFont(self.font)
            if tile < 2.5 * QFontMetrics(font).height():  # small tiles: letters that leave the pattern visible
                font.setPixelSize(max(10, int(tile / 2.5)))  # 10 px: still readable on a projector
            painter.setFont(font)
            metrics = painter.fontMetrics()
            for layer in range(self.n_layers):
                for head in range(self.n_heads):
                    marks = marks_of[layer][head]
                    # never wider than the tile: a letter would run into the next tile's
                    while marks and metrics.horizontalAdvance(marks) + 4 > tile:
                        marks = marks[:-1]
                    if not marks:
                        continue
                    row, col = self.arrangement.place(layer, head)
                    corner = to_device.map(QPointF(col * step - 0.5, row * step - 0.5))
                    w, h = metrics.horizontalAdvance(marks) + 4, metrics.height()
                    box = QRectF(corner.x() + 1, corner.y() + 1, w, h)
                    painter.fillRect(box, self.badge_back)
                    painter.setPen(self.badge_colour)
                    painter.drawText(box, Qt.AlignCenter, marks)
                    drawn_text.note(painter, box, marks)
        painter.restore()


#: a badge letter on more than this share of the heads is not drawn on the grid (it would
#: cover most tiles and tell nothing apart: SmolLM2 has sinks on 171 of 270 heads)
COMMON_BADGE_SHARE = 0.5


def badge_marks(badges: HeadBadges) -> tuple[list[list[str]], dict[str, int]]:
    """The letters to draw per head, and the letters left out because they are on more than
    :data:`COMMON_BADGE_SHARE` of the heads (letter → how many heads have it)."""
    L, H = badges.previous_token.shape
    full = [[badges.marks(layer, head) for head in range(H)] for layer in range(L)]
    counts: dict[str, int] = {}
    for row in full:
        for marks in row:
            for letter in marks:
                counts[letter] = counts.get(letter, 0) + 1
    common = {letter: n for letter, n in counts.items() if n > COMMON_BADGE_SHARE * L * H}
    return [["".join(c for c in marks if c not in common) for marks in row] for row in full], common


class GridControls(QWidget):
    """Knock-out mode, clear, sweep with progress and Cancel, rollout and badge toggles."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        self.mode.addItem("", "zero")
        self.mode.addItem("", "mean")
        self.clear = QPushButton()
        self.sweep = QPushButton()
        self.cancel = QPushButton()
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(110)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.show_sweep = QCheckBox()
        self.show_sweep.setEnabled(False)
        self.rollout = QCheckBox()
        self.badges = QCheckBox()
        self.badges.setChecked(True)
        self.dla = QCheckBox()  # colour each head by its direct contribution to the target (issue #26)
        self._common: tuple[dict[str, int], int] = ({}, 0)  # badge letters not drawn, of how many heads
        # One flowing row that wraps: at large text a fixed row of buttons made the grid pane
        # as wide as half a 1280-pixel screen, squeezing the tabs (docs/layout.md).
        rows = FlowLayout(self)
        for w in (self.mode, self.clear, self.sweep, self.cancel, self.progress, self.show_sweep,
                  self.rollout, self.badges, self.dla):
            rows.addWidget(w)
        self.retranslate()

    def retranslate(self) -> None:
        """Every text in the interface language (called again when it changes)."""
        self.mode.setItemText(0, self.tr("knock out: zero"))
        self.mode.setItemText(1, self.tr("knock out: mean"))
        self.mode.setToolTip(self.tr(
            "Ctrl+click (or Shift+click) a head to knock it out; again to put it back.\n"
            "zero: the head adds nothing.\n"
            "mean: the head adds its average output over a few fixed reference sentences, "
            "the same at every position, whatever the text."))
        self.clear.setText(self.tr("Restore all"))
        self.sweep.setText(self.tr("Sweep"))
        self.sweep.setToolTip(self.tr("Knock out each head in turn and colour it by the change in the "
                                      "log-probability of the token chosen in the Next token tab (click its "
                                      "bar), or of the top token"))
        self.cancel.setText(self.tr("Cancel"))
        self.show_sweep.setText(self.tr("sweep colours"))
        self.rollout.setText(self.tr("rollout"))
        self.rollout.setToolTip(self.tr("Attention rollout (Abnar & Zuidema 2020): heads averaged, the "
                                        "residual added, layers multiplied. Attention weights are not explanations."))
        self.dla.setText(self.tr("who wrote it"))
        self.dla.setToolTip(self.tr(
            "Colour each head by its direct contribution to the target's logit at the selected token "
            "(direct logit attribution, as the Who wrote it tab: red pushes the token up, blue down; "
            "the final norm's scale frozen at the forward pass's value). Click a head to select it."))
        self.set_common_badges(*self._common)

    def legend(self, common: dict[str, int] | None = None, n_heads: int = 0) -> str:
        """The badge letters, and the common ones not drawn (see :func:`badge_marks`)."""
        text = self.tr("P previous-token, S first-token (sink), I induction, D duplicate-token")
        for letter, count in sorted((common or {}).items()):
            text += "\n" + self.tr("{letter} is on {count} of {total} heads: not drawn on the grid "
                                    "(the Head roles tab lists them)").format(letter=letter, count=count, total=n_heads)
        return text

    def set_common_badges(self, common: dict[str, int], n_heads: int) -> None:
        self._common = (dict(common), n_heads)
        self.badges.setText(self.tr("badges") + (" " + self.tr("({letters} hidden)").format(
            letters=", ".join(sorted(common))) if common else ""))
        self.badges.setToolTip(self.legend(common, n_heads))


def sweep_image(delta: np.ndarray, n_tokens: int, gap: int, arrangement: Arrangement | None = None) -> np.ndarray:
    """(L, H) → the mosaic's shape, each tile filled with its head's value (NaN in the gaps)."""
    L, H = delta.shape
    return mosaic(np.broadcast_to(delta[:, :, None, None], (L, H, n_tokens, n_tokens)).astype(np.float32), gap,
                  arrangement=arrangement)
