"""How the enlarged head's map is labelled, measured for the room it has (issue #32): which
rows and slanted columns get a label, the room above and right of the matrix for the slanted
ones, and a plot title that shortens its token to fit its column."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt

from explorer.views.matrix_labels import LABEL_ANGLE


class SteadyTitle(pg.LabelItem):
    """A plot title whose text changes with every keystroke ("where does 'cat' look?").
    A LabelItem asks for the width of its text, so each new text laid the whole view out
    and painted it twice more; this one asks only for its height, which does not change."""

    def updateMin(self) -> None:  # noqa: N802 (pyqtgraph API)
        height = self.itemRect().height()
        self._sizeHint = {
            Qt.SizeHint.MinimumSize: (0, height),
            Qt.SizeHint.PreferredSize: (0, height),
            Qt.SizeHint.MaximumSize: (-1, -1),
            Qt.SizeHint.MinimumDescent: (0, 0),
        }
        if height != self.minimumHeight():
            self.setMinimumHeight(height)
            super().updateGeometry()

    def updateGeometry(self) -> None:  # noqa: N802 (Qt API)
        pass  # only updateMin, when the height changes

    template = "{token}"
    token = ""

    short = ""

    def show_token(self, template: str, token: str, short: str = "") -> None:
        """``template`` with ``token`` in it, the token shortened with "…" until the whole
        title fits the column (at 1280 px "'␣roamed' looks at" ran off the window's edge);
        ``short`` when not even "…" fits."""
        self.template, self.token, self.short = template, token, short
        self._fit()

    _fitting = False

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if not self._fitting:  # LabelItem.setText calls resizeEvent itself
            self._fitting = True
            try:
                self._fit()
            except RuntimeError:  # the item is being deleted: an error here would crash PySide
                pass
            finally:
                self._fitting = False

    def _fit(self) -> None:
        room = self.width() - 4
        token = self.token
        for cut in range(len(token) + 1):
            shown = token[: len(token) - cut] + ("…" if cut else "")
            text = self.template.format(token=shown)
            if text != self.text:
                self.setText(text)
            if room <= 0 or self._width() <= room:
                return
        if self.short:
            self.setText(self.short)

    def _width(self) -> float:
        return self.item.boundingRect().width() - 2 * self.item.document().documentMargin()


SLANT = math.radians(-LABEL_ANGLE)  # the column labels' rise


@dataclass(frozen=True)
class LabelPlan:
    """``row_every`` / ``col_every``: label every n-th row / column; ``label_space``: rows of
    room above the matrix for the slanted column labels; ``right_space``: columns of room
    right of it, where the last labels lean."""

    row_every: int
    col_every: int
    label_space: float
    right_space: float
    bottom_space: float = 0.0


def label_plan(width: float, height: float, rows: int, cols: int, row_text_h: float, col_text_h: float,
               widest_col: float) -> LabelPlan:
    """The labelling of a rows × cols matrix in a ``width`` × ``height`` pixel view (pure: the
    same sizes always give the same plan). Rows need a text line each; slanted columns need
    their line height measured across the slant (a column ``w`` wide puts two labels
    ``w · sin(40°)`` apart); the slanted labels need ``widest · sin(40°)`` pixels above the
    matrix and ``widest · cos(40°)`` to its right."""
    width, height = max(width, 1.0), max(height, 1.0)
    rise = widest_col * math.sin(SLANT) + col_text_h * math.cos(SLANT) + 6
    lean = widest_col * math.cos(SLANT)
    # the label room, in rows: space · cell = rise, with cell = height / (rows + space)
    label_space = max(1.0, rows * rise / max(height - rise, 0.35 * height))
    right_space = max(1.2, cols * lean / max(width - lean, 0.35 * width) + 0.3)
    cell_h = height / ((rows + label_space) * 1.02)  # the range's 1 % padding on each side
    cell_w = width / ((cols + right_space) * 1.02)
    # the last row's label is centred on it: below a row thinner than the text it needs room
    bottom_space = max(0.0, (row_text_h * 0.5 - cell_h * 0.5) / cell_h)
    cell_h = height / ((rows + label_space + bottom_space) * 1.02)
    row_every = max(1, math.ceil(row_text_h / cell_h))
    col_every = max(1, math.ceil(col_text_h * 1.05 / max(cell_w * math.sin(SLANT), 1e-6)))
    return LabelPlan(row_every, col_every, label_space, right_space, bottom_space)


def thinned(n: int, every: int, keep: int | None = None) -> list[int]:
    """Every ``every``-th of ``range(n)`` from 0, with ``keep`` always among them (its
    neighbours closer than ``every`` give way to it): the selected query is never unlabelled."""
    shown = [i for i in range(0, n, every)]
    if keep is None or not 0 <= keep < n or every == 1:
        return shown
    return sorted([i for i in shown if abs(i - keep) >= every] + [keep])
