"""A teacher steps through every shipped lesson at 1024 × 768 with 1.5× text (Ctrl+= three
times), in English and in Chinese, and every number a caption cites is on the screen (issue
#32): "compare them with the book" had the 'step' row (1.0865) hidden, a scene saying "six
words" showed four rows, and "the rest renormalised" sat over bars that were not.

On screen means drawn and visible: painted labels inside the visible part of their view
(:mod:`tests.explorer.layout_check`), and the texts of visible widgets (labels, number boxes,
buttons). A caption's number is found when a number on screen reads the same to the
caption's decimals ("2" is "2" or "2.00", "0.9544" is "0.9544")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, QSettings
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from explorer.lesson_file import load_lesson
from model.core.paths import BUNDLED
from tests.explorer import layout_check

LESSONS = sorted((Path(__file__).resolve().parents[2] / "assets" / "lessons").glob("*.toml"))
NUMBER = re.compile(r"(?<![\w.])[−-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)")
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
COUNTED = re.compile(r"\b(" + "|".join(WORDS) + r") (?:words|tokens)\b")
ZH_COUNTED = re.compile(r"([二三四五六七八九十])个词(?!元)")  # "六个词": six words (一个词元 is "a token")
ZH_WORDS = dict(zip("一二三四五六七八九十", range(1, 11), strict=True))


def numbers(text: str) -> list[str]:
    return [m.group(0).replace("−", "-") for m in NUMBER.finditer(text)]


def value(text: str) -> float:
    return float(text.replace(",", ""))


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def found(cited: str, shown: list[str]) -> bool:
    target, places = value(cited), decimals(cited)
    for number in shown:
        v = value(number)
        if (places == 0 and v == target) or (places > 0 and decimals(number) >= places and round(v, places) == target):
            return True
    return False


def on_screen(window) -> list[str]:
    """Every text the window shows in its visible parts, but the caption itself, the text box
    and the status line (a number found there proves nothing)."""
    ignored = {window.caption, window.text_box, window.banner, *window.statusBar().findChildren(QWidget)}
    texts = []
    for label in layout_check.labels(window):
        area = layout_check.visible_rect(label.owner, window)
        if area.contains(QPointF(label.rect.center())):
            texts.append(label.text)
    for widget in window.findChildren(QWidget):
        if not isinstance(widget, (QLabel, QAbstractButton, QAbstractSpinBox, QLineEdit, QComboBox)) or widget in ignored:
            continue
        if not widget.isVisibleTo(window) or layout_check.visible_rect(widget, window).isEmpty():
            continue
        if isinstance(widget, QComboBox):
            texts.append(widget.currentText())
        elif isinstance(widget, QAbstractSpinBox):
            texts.append(widget.text())
        else:
            texts.append(re.sub(r"<[^>]+>", " ", widget.text()))
    return texts


def visible_rows(window, canvas) -> int:
    """The step-through's key rows a person sees (not below the fold of a scrolled tab)."""
    bottom = layout_check.visible_rect(canvas, window).bottom()
    top = canvas.mapTo(window, canvas.rect().topLeft()).y()
    return sum(1 for _j, y, h in canvas.key_rows.rows if top + y + h <= bottom + 1)


def play(window, app, scene, index) -> None:
    window.player.go(index)
    layout_check.wait(app, lambda: window.trace is not None and window.worker.is_idle()
                      and window.trace.text == scene.get("text", window.trace.text), 60)
    if window.current_tab_panel() is not None:
        layout_check.show(window, window.current_tab_panel(), app)


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_every_number_a_caption_cites_is_on_screen(qapp, tmp_path, language):
    from explorer import i18n
    from explorer.window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("language", language)
    window = MainWindow(source=BUNDLED, settings=settings, initial_text="the king and the queen")
    try:
        window.resize(1024, 768)
        window.show()
        assert layout_check.wait(qapp, lambda: window.trace is not None, 60)
        window.set_font_size(19)  # 13 pt, Ctrl+= three times
        missing, checked = [], 0
        for path in LESSONS:
            lesson = load_lesson(path)
            assert window.start_lesson(path), window.banner.text()
            for index, scene in enumerate(lesson.scenes):
                play(window, qapp, scene, index)
                caption = window.caption.text()
                shown = [n for text in on_screen(window) for n in numbers(text)]
                for cited in numbers(caption):
                    checked += 1
                    if not found(cited, shown):
                        missing.append(f"{path.name} scene {index + 1}: {cited} of {caption!r} is not on screen")
                counted = COUNTED.findall(caption) or ZH_COUNTED.findall(caption)
                for word in counted:
                    n = WORDS.get(word) or ZH_WORDS.get(word)
                    panel = window.current_tab_panel()
                    listed = visible_rows(window, panel.canvas) if panel.key == "step" else window.trace.n_tokens
                    if listed != n:
                        missing.append(f"{path.name} scene {index + 1}: the caption says {n} words and {listed} are listed")
            window.player.stop()
        assert checked > 25
        assert not missing, "\n".join(missing)
    finally:
        window.worker.stop()
        window.close()
        i18n.install_translator(QApplication.instance(), "en")


def test_the_caption_is_not_counted_as_the_screen(qapp, tmp_path):
    """The caption holds its own numbers: they must be found elsewhere."""
    from explorer.window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("language", "en")
    window = MainWindow(source=BUNDLED, settings=settings, initial_text="the king")
    try:
        window.show()
        assert layout_check.wait(qapp, lambda: window.trace is not None, 60)
        window.caption.setText("a number nowhere else: 8123.4567")
        window.caption.show()
        assert not found("8123.4567", [n for text in on_screen(window) for n in numbers(text)])
    finally:
        window.worker.stop()
        window.close()


def test_the_number_check_can_fail():
    shown = numbers("T = 2.00   entropy 7.43 bits   0.1385 0.2379")
    assert found("2", shown) and found("0.1385", shown) and found("7.43", shown)
    assert not found("1.0865", shown) and not found("3", shown)
    assert numbers("GPT-3's x1 α₂ⱼ 30,522 −0.5") == ["3", "30,522", "-0.5"]
