"""Exported pictures carry a title: the view, layer and head, the model and the text (issue
#32). ``explorer.export``'s picture path calls these (wired in by the export's owner)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage

from explorer.picture_title import panel_title, picture_title, titled


def test_the_title_names_view_head_model_and_text():
    title = picture_title("Head", "teaching model (bundled)", "the cat sat on the mat", 1, 2, " sat")
    assert title == "Head · layer 1, head 2 · query “␣sat” · teaching model (bundled) · “the cat sat on the mat”"
    long = picture_title("Positions", "gpt2", "word " * 100)
    assert "layer" not in long and long.endswith("…”") and len(long) < 120


def test_a_panel_gives_what_its_drawing_depends_on(qtbot, make_window):
    window = make_window(text="the king and the queen")
    window.finish_building()
    window.select_head(1, 2)
    head = panel_title(window.head_detail, window.model_info.name, window.trace.text)
    assert "layer 1, head 2" in head and "“the king and the queen”" in head and head.startswith("Head")
    anatomy = panel_title(window.anatomy, window.model_info.name, window.trace.text)
    assert "layer" not in anatomy and anatomy.startswith("Anatomy")


def test_the_band_sits_above_the_picture_at_its_width():
    picture = QImage(600, 300, QImage.Format_ARGB32_Premultiplied)
    picture.fill(QColor("#336699"))
    out = titled(picture, "Head · layer 1, head 2 · tiny · “the cat”", QColor("#ffffff"), QColor("#000000"))
    band = out.height() - picture.height()
    assert out.width() == 600 and 15 < band < 80
    assert out.pixelColor(300, band + 150) == QColor("#336699")  # the picture, whole, under the band
    band_colours = {out.pixelColor(x, y).name() for x in range(0, 300, 2) for y in range(band)}
    assert "#000000" in band_colours or len(band_colours) > 2  # text drawn in the band
