"""A title over an exported picture: which view, layer and head, which model, which text.

An exported PNG carried none (issue #32): on a slide or in a handout a teacher could not tell
"layer 1, head 2 of the teaching model on 'the cat sat'" from any other head. This module
makes the words and draws them in a band above the picture, the picture's own width kept;
:mod:`explorer.export` (the picture path, owned elsewhere) calls :func:`titled` with
:func:`picture_title`.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

MAX_TEXT = 80  # characters of the traced text in a title; a longer one ends in "…"


def picture_title(view: str, model: str, text: str, layer: int | None = None, head: int | None = None,
                  query: str | None = None) -> str:
    """``Head · layer 1, head 2 · query “sat” · teaching model (bundled) · “the cat sat”``: the
    parts that apply, in the interface language."""
    from explorer.views.labels import model_name, token_label

    parts = [view]
    if layer is not None and head is not None:
        parts.append(QCoreApplication.translate("Export", "layer {layer}, head {head}").format(layer=layer, head=head))
    elif layer is not None:
        parts.append(QCoreApplication.translate("Export", "layer {layer}").format(layer=layer))
    if query is not None:
        parts.append(QCoreApplication.translate("Export", "query “{token}”").format(token=token_label(query, 20)))
    parts.append(model_name(model))
    shown = " ".join(text.split())
    if len(shown) > MAX_TEXT:
        shown = shown[: MAX_TEXT - 1] + "…"
    if shown:
        parts.append(f"“{shown}”")
    return " · ".join(p for p in parts if p)


def panel_title(panel, model: str, text: str) -> str:
    """:func:`picture_title` for a panel: its tab's name, and the layer, head and query of its
    selection where its drawing depends on them."""
    fields = getattr(panel, "selection_fields", frozenset())
    selection = getattr(panel, "selection", None)
    trace = getattr(panel, "trace", None)
    layer = selection.layer if selection is not None and "layer" in fields else None
    head = selection.head if selection is not None and "head" in fields else None
    query = None
    if selection is not None and "query" in fields and trace is not None and trace.n_tokens:
        query = trace.token_strings[selection.query_index(trace.n_tokens)]
    view = panel.tab_title() if hasattr(panel, "tab_title") and getattr(panel, "title", "") else ""
    return picture_title(view, model, text, layer, head, query)


def titled(image: QImage, title: str, background: QColor, foreground: QColor) -> QImage:
    """``image`` under a band holding ``title`` (wrapped when long), as wide as the image; its
    text sized to the image (a fortieth of its width, 11–28 px)."""
    width = image.width()
    font = QFont()
    font.setPixelSize(int(max(11, min(28, width / 40))))
    font.setBold(True)
    metrics = QFontMetricsF(font)
    margin = font.pixelSize() * 0.6
    flags = Qt.AlignLeft | Qt.AlignVCenter | Qt.TextWordWrap
    box = metrics.boundingRect(QRectF(0, 0, max(1.0, width - 2 * margin), 10_000), flags, title)
    band = int(box.height() + 2 * margin)
    out = QImage(width, image.height() + band, QImage.Format_ARGB32_Premultiplied)
    out.fill(background)
    painter = QPainter(out)
    try:
        painter.setRenderHint(QPainter.TextAntialiasing)
        painter.setFont(font)
        painter.setPen(foreground)
        painter.drawText(QRectF(margin, margin, width - 2 * margin, box.height()), flags, title)
        painter.drawImage(0, band, image)
    finally:
        painter.end()
    return out
