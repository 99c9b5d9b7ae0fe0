"""One fact, one place (issue #30): every tab the registry names can be saved as a lesson
scene with Ctrl+S, replayed, and exported headlessly — the tab keys, lesson validation and the
export views all come from explorer.names.TABS."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from explorer import app as app_module
from explorer.headless import VIEWS
from explorer.lesson_file import SCENE_KEYS, load_lesson, parse_lesson
from explorer.names import STAGES, TAB_KEYS, TABS
from explorer.views.registry import tab_panel_classes

TEXT = "the king and the queen"


def test_the_registry_is_the_one_list_of_tabs():
    assert [cls.key for cls in tab_panel_classes()] == list(TAB_KEYS)
    assert len(set(TAB_KEYS)) == len(TAB_KEYS)
    for key in TAB_KEYS:  # a lesson may name any tab the window has
        parse_lesson(f'title = "t"\n[[scene]]\ntab = "{key}"\n', Path("t.toml"))
    with pytest.raises(Exception, match="tab must be one of"):
        parse_lesson('title = "t"\n[[scene]]\ntab = "nonsense"\n', Path("t.toml"))
    assert {t.export_view for t in TABS} <= set(VIEWS)
    assert "stage" in SCENE_KEYS and len(STAGES) == 8


@pytest.mark.parametrize("key", TAB_KEYS)
def test_ctrl_s_on_every_tab_saves_a_scene_that_replays(qtbot, make_window, tmp_path, monkeypatch, key):
    window = make_window(text=TEXT)
    window.finish_building()
    target = tmp_path / "lessons" / "my-lesson.toml"
    monkeypatch.setattr(type(window), "user_lesson_path", lambda self: target)
    window.select_head(1, 2)
    window.show_tab(window.panel(key))
    qtbot.keyClick(window, Qt.Key_S, Qt.ControlModifier)  # the shortcut, not the method
    assert target.exists(), window.banner.text()
    assert "Saved as scene 1" in window.banner.text()
    scene = load_lesson(target).scenes[-1]
    assert scene.get("tab") == key and scene.get("layer") == 1 and scene.get("head") == 2

    window.show_tab(window.panel("head" if key != "head" else "next"))
    window.select_head(0, 0)
    assert window.start_lesson(target)
    qtbot.waitUntil(lambda: window.current_tab_panel().key == key, timeout=10000)
    assert (window.selection.layer, window.selection.head) == (1, 2)
    assert not window.banner.property("error"), window.banner.text()
    window.player.stop()


def _export_args(view: str) -> list[str]:
    if view == "drift":
        return ["--view", view, "--text", "the king sat | the queen sat", "--word", "sat"]
    if view == "ab":
        return ["--view", view, "--text", "the king sat | the queen sat"]
    suffix = {"head": ":1.2", "step": ":1.2.-1"}.get(view, "")
    return ["--view", view + suffix, "--text", TEXT]


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_every_view_exports_headlessly_to_png_and_csv(qtbot, capsys, tmp_path, tiny_model_folder, view):
    for ext in ("png", "csv"):
        out = tmp_path / f"{view}.{ext}"
        code = app_module.main(["export", "--model", str(tiny_model_folder), *_export_args(view),
                                "--out", str(out), "--width", "600"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert out.exists() and out.stat().st_size > 0
        if ext == "png":
            assert QImage(str(out)).width() == 600
        else:
            header = out.read_text(encoding="utf-8").splitlines()[0]
            assert "," in header
