"""Hostile lesson files and settings (issue #31): refused with a message, never a crash, a
hang or a traceback; the file a teacher saves over is never damaged."""

from __future__ import annotations

import os
import threading

import pytest
from PySide6.QtCore import QByteArray, QSettings

from explorer import settings as app_settings
from explorer.lesson_file import MAX_LESSON_BYTES, LessonError, append_scene, load_lesson, parse_lesson

GOOD = 'title = "t"\n[[scene]]\ntext = "the king"\n'


def _message(exc: LessonError) -> str:
    return exc.message()


@pytest.mark.parametrize("depth", [20, 1000])
def test_deep_nesting_is_refused_before_the_parser_recurses(tmp_path, depth):
    path = tmp_path / "deep.toml"
    path.write_text(GOOD + "analogy = " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    assert "nested more than" in _message(info.value)


def test_deep_dotted_keys_are_refused(tmp_path):
    path = tmp_path / "dotted.toml"
    path.write_text(GOOD + "[" + ".".join(["a"] * 1200) + "]\nx = 1\n")
    with pytest.raises(LessonError):
        load_lesson(path)


def test_a_file_too_large_is_refused_without_reading_it_whole(tmp_path):
    path = tmp_path / "big.toml"
    path.write_bytes(GOOD.encode() + b"#" * (MAX_LESSON_BYTES + 10))
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    assert "too large" in _message(info.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "lesson.toml"
    os.mkfifo(fifo)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(pytest.raises(LessonError, load_lesson, fifo)), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert "not a regular file" in _message(result[0].value)


def test_a_device_is_refused(tmp_path):
    with pytest.raises(LessonError) as info:
        load_lesson("/dev/zero")
    assert "not a regular file" in _message(info.value)


@pytest.mark.parametrize("key, value", [("seed", 2**31), ("seed", 2**32), ("top_k", 2**32), ("layer", 10**9),
                                        ("query", -(10**12)), ("head", -1)])
def test_numbers_beyond_what_the_widgets_hold_are_refused_by_the_file(key, value, tmp_path):
    with pytest.raises(LessonError) as info:
        parse_lesson(GOOD + f"{key} = {value}\n", tmp_path / "n.toml")
    assert key in _message(info.value)


def test_saving_over_a_file_that_is_not_a_lesson_leaves_it_untouched(tmp_path):
    path = tmp_path / "my-lesson.toml"
    original = b"\xff\xfe not utf-8 \x00\x01"
    path.write_bytes(original)
    with pytest.raises(LessonError) as info:
        append_scene(path, {"text": "the king"})
    assert "not UTF-8" in _message(info.value)
    assert path.read_bytes() == original
    path.write_text("this is = not [ toml")
    with pytest.raises(LessonError):
        append_scene(path, {"text": "the king"})
    assert path.read_text() == "this is = not [ toml"


def test_the_window_saving_over_a_broken_lesson_says_so(make_window, tmp_path, monkeypatch):
    window = make_window(text="the king")
    target = tmp_path / "my-lesson.toml"
    target.write_bytes(b"\xff\xfe\x00")
    monkeypatch.setattr(type(window), "user_lesson_path", lambda self: target)
    window.save_scene()
    assert window.banner.property("error") and "not UTF-8" in window.banner.text()
    assert target.read_bytes() == b"\xff\xfe\x00"


@pytest.mark.parametrize("key, value", [
    ("font_size", 99999999999), ("font_size", "1e9"), ("font_size", -5), ("font_size", 0), ("font_size", 400),
    ("font_size", "nan"), ("font_size", "hello"), ("window_state", "hello"), ("window_state", 12),
    ("geometry", "nope"), ("theme", 7), ("language", "klingon"), ("text", 12345), ("colour_map", "jet")])
def test_corrupt_settings_fall_back_to_defaults(tmp_path, key, value):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    settings.setValue(key, value)
    settings.sync()
    read = app_settings.read(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    assert app_settings.MIN_POINT_SIZE <= read.font_size <= app_settings.MAX_POINT_SIZE
    assert read.theme in app_settings.THEMES and read.colour_map in app_settings.COLOUR_MAPS
    assert read.window_state is None or isinstance(read.window_state, QByteArray)
    assert read.geometry is None or isinstance(read.geometry, QByteArray)
    assert read.text is None or isinstance(read.text, str)


@pytest.mark.parametrize("key, value", [("font_size", 99999999999), ("window_state", "hello"), ("window_state", 12),
                                        ("font_size", 400)])
def test_the_window_starts_with_corrupt_settings(qtbot, tiny_model_folder, tmp_path, key, value):
    from explorer.window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    settings.setValue("language", "en")
    settings.setValue(key, value)
    window = MainWindow(source=str(tiny_model_folder), settings=settings, initial_text="the king")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.trace is not None, timeout=10000)
    assert window.theme.point_size <= app_settings.MAX_POINT_SIZE
    assert window.width() < 4000 and window.height() < 4000
    window.worker.stop()


@pytest.mark.parametrize("text", ["\ufffeabc", "\ufeffabc", "\ufffe", "a\ufeffb"])
def test_text_keeps_its_first_character_exactly(make_window, text):
    window = make_window(text=text)
    assert window.text_box.text() == text
    assert window.trace.text == text


def test_a_token_label_names_a_byte_order_mark():
    from explorer.views.labels import token_label

    assert token_label("\ufffeab") == "⟨U+FFFE⟩ab" and token_label("\ufeff") == "⟨U+FEFF⟩"
