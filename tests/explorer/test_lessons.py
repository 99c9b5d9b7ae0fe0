"""Lessons: the file format, its errors, saving scenes, and every shipped scene played."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from explorer.lesson_file import LessonError, append_scene, load_lesson, parse_lesson, shipped_lessons


def test_the_shipped_lessons_cover_the_documents():
    lessons = [load_lesson(p) for p in shipped_lessons()]
    assert len(lessons) >= 6 and sum(len(lesson.scenes) for lesson in lessons) >= 40
    for lesson in lessons:
        assert lesson.title and lesson.title_zh
        for scene in lesson.scenes:
            assert scene.get("caption") and scene.get("caption_zh"), (lesson.path.name, scene.index)
    captions = " ".join(s.get("caption") for lesson in lessons for s in lesson.scenes)
    for topic in ("king − man + woman", "T = 0", "T = 2", "fluffy", "−∞", "mole", "sin(", "GPT-3", "induction",
                  "sink", "W_Q"):
        assert topic in captions, topic


def test_a_scene_inherits_what_it_leaves_out(tmp_path):
    lesson = parse_lesson('title = "t"\n[[scene]]\ntext = "a b"\nlayer = 1\n[[scene]]\nhead = 2\n', tmp_path / "l.toml")
    assert lesson.scenes[1].state == {"model": "bundled", "text": "a b", "layer": 1, "head": 2}
    assert lesson.scenes[1].values == {"head": 2}


@pytest.mark.parametrize("text, expected", [
    ('title = "t"\n[[scene]]\ntext = "ok"\n\n[[scene]]\nlayr = 1\n', r"scene 2 \(line 5\): unknown key 'layr'"),
    ('title = "t"\n[[scene]]\nlayer = "one"\n', r"scene 1 \(line 2\): layer must be int"),
    ('title = "t"\n[[scene]]\nfreeze = 1\n', r"freeze must be bool"),
    ('title = "t"\n[[scene]]\nlayer = true\n', r"layer must be int"),
    ('title = "t"\n[[scene]]\ntab = "heads"\n', r"tab must be one of"),
    ('title = "t"\n[[scene]]\nstage = 19\n', r"stage must be 0–18"),
    ('title = "t"\n[[scene]]\nknocked_out = [[1, 2, 3]]\n', r"knocked_out must be a list of \[layer, head\] pairs"),
    ('title = "t"\n[[scene]]\ntemperature = 3\n', r"temperature must be in 0–2.5"),
    ('title = "t"\n[[scene]]\nanalogy = ["a", "b"]\n', r"analogy must be three words"),
    ('title = "t"\n[[scene\ntext = "x"\n', r"not valid TOML: .*line 2"),
    ('title = "t"\n', r"no scenes"),
    ('title = "t"\nscenes = 1\n[[scene]]\n', r"unknown top-level key 'scenes'"),
])
def test_a_malformed_lesson_gets_a_message_naming_file_scene_and_line(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LessonError, match=expected) as info:
        load_lesson(path)
    assert str(path) in str(info.value)


def test_missing_and_binary_files_are_messages(tmp_path):
    with pytest.raises(LessonError, match="no such lesson file"):
        load_lesson(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(LessonError, match="not UTF-8"):
        load_lesson(tmp_path / "bin.toml")


def test_saved_scenes_round_trip_and_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "lessons" / "mine.toml"
    values = {"model": "bundled", "text": 'say "hi"\t\u202e日本 😀', "layer": 1, "analogy": ["a", "b", "c"],
              "temperature": 0.5, "freeze": False}
    append_scene(path, values)
    lesson = append_scene(path, {"text": "second"})
    assert len(lesson.scenes) == 2 and lesson.scenes[0].values == values
    before = path.read_bytes()

    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        append_scene(path, {"text": "third"})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["mine.toml"]  # no temp file left behind


def test_a_bad_lesson_file_is_a_banner_not_a_crash(qtbot, make_window, tmp_path):
    window = make_window()
    bad = tmp_path / "bad.toml"
    bad.write_text("[[scene]]\nlayer = -1\n", encoding="utf-8")
    assert window.start_lesson(bad) is False
    assert "bad.toml" in window.banner.text() and "layer must be 0–4095" in window.banner.text()
    assert not window.player.playing


def test_clicker_keys_step_scenes_and_typing_can_be_frozen(qtbot, make_window, tmp_path, tiny_model_folder):
    window = make_window()
    path = tmp_path / "l.toml"
    path.write_text(f'title = "t"\n[[scene]]\nmodel = "{tiny_model_folder}"\ntext = "the king"\nfreeze = true\n'
                    'caption = "one"\ncaption_zh = "一"\n[[scene]]\ntext = "the queen"\nlayer = 1\ncaption = "two"\n',
                    encoding="utf-8")
    assert window.start_lesson(path)
    qtbot.waitUntil(lambda: window.trace is not None and window.trace.text == "the king", timeout=10000)
    assert window.caption.text() == "one" and window.text_box.isReadOnly()
    window.heads_grid.setFocus()
    qtbot.keyClick(window.heads_grid, Qt.Key_PageDown)
    qtbot.waitUntil(lambda: window.trace.text == "the queen", timeout=10000)
    assert window.caption.text() == "two" and window.selection.layer == 1
    qtbot.keyClick(window.heads_grid, Qt.Key_PageUp)
    assert window.caption.text() == "one" and window.player.index == 0
    qtbot.keyClick(window.heads_grid, Qt.Key_Escape)
    assert not window.player.playing and not window.caption.isVisible() and not window.text_box.isReadOnly()


def test_a_scene_whose_model_cannot_load_is_not_applied_to_a_later_load(qtbot, make_window, tmp_path, tiny_model_folder):
    window = make_window(text="the mole")
    path = tmp_path / "l.toml"
    path.write_text(f'title = "t"\n[[scene]]\nmodel = "{tmp_path / "missing"}"\ntext = "the king"\nlayer = 1\n',
                    encoding="utf-8")
    assert window.start_lesson(path)
    qtbot.waitUntil(lambda: "Could not load the model" in window.banner.text(), timeout=10000)
    window.load_model(str(tiny_model_folder))  # the person picks a model from the menu
    qtbot.waitUntil(lambda: window.startup.history[-1][0] == "trace_shown", timeout=10000)
    assert window.worker.wait_until_idle()
    assert window.text_box.text() == "the mole" and window.selection.layer == 0


def test_ctrl_s_saves_the_view_as_a_scene(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window(text="the mole")
    target = tmp_path / "my" / "my-lesson.toml"
    monkeypatch.setattr(type(window), "user_lesson_path", lambda self: target)
    window.select_head(1, 2)
    window.show_tab(window.next_token)
    window.next_token.set_temperature(0.5)
    window.save_scene()
    scene = load_lesson(target).scenes[-1]
    assert scene.get("text") == "the mole" and scene.get("layer") == 1 and scene.get("head") == 2
    assert scene.get("tab") == "next" and scene.get("temperature") == 0.5
    assert "Saved as scene 1" in window.banner.text()


@pytest.mark.parametrize("path", shipped_lessons(), ids=lambda p: p.stem)
def test_every_shipped_scene_plays_offscreen(qtbot, make_window, path):
    window = make_window(source="bundled")
    lesson = load_lesson(path)
    assert window.start_lesson(path)
    for index, scene in enumerate(lesson.scenes):
        window.player.go(index)
        qtbot.waitUntil(lambda s=scene: window.trace is not None and window.trace.text == s.get("text", window.trace.text)
                        and window.model_info is not None, timeout=30000)
        assert window.worker.wait_until_idle(60)  # the bundled model: torch loads after its first trace
        problems = window.apply_scene(scene)
        assert problems == [], (path.name, index, problems)
        assert window.caption.text() == scene.caption("en")
        sel = window.selection
        assert (sel.layer, sel.head) == (scene.get("layer", sel.layer), scene.get("head", sel.head))
        if scene.get("tab"):
            assert window.current_tab_panel().key == scene.get("tab")
        assert not window.banner.property("error"), window.banner.text()
