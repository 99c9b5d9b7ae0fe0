"""One fact, one place (issue #30): every tab the panel registry (explorer/views/registry.py) names
can be saved as a lesson scene with Ctrl+S, replayed with its own controls' state, and exported
headlessly — the window's tabs, lesson validation, Ctrl+S and the export views all come from the
registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from explorer import app as app_module
from explorer import export as export_module
from explorer.headless import VIEWS, build_parser
from explorer.lesson_file import SCENE_KEYS, SCENE_ONLY_KEYS, WINDOW_KEYS, load_lesson, parse_lesson
from explorer.names import STAGES, USER_LESSON_FILE, Stage
from explorer.views.registry import PANELS, TAB_KEYS, export_views, panel_scene_keys, tab, tab_panel_classes

TEXT = "the king and the queen"
README = Path(__file__).resolve().parents[2] / "README.md"

#: For every tab, its own controls in a state unlike the one it starts in: one value for each
#: scene key the registry gives it (the first test holds the two lists together).
CHANGED: dict[str, dict] = {
    "head": {"mode": "rollout", "layout_3b1b": True, "hide_first": True},
    "next": {"temperature": 0.5, "top_k": 7, "top_p": 0.9, "seed": 1234},
    "embeddings": {"words": "verb tenses", "extra_words": "king queen", "analogy": ["woman", "man", "queen"]},
    "drift": {"drift": "tower", "drift_word": "king", "drift_sentences": ["the king and the queen",
                                                                         "the man and the king"]},
    "ab": {"prompt_b": "the queen and the king"},
    "dla": {"contrast": " queen"},
    "graph": {"threshold": 0.2, "whole_graph": True},
}
#: the selection each saved scene holds (layer, head, stage)
FIRST, SECOND = (1, 2, Stage.SOFTMAX), (0, 3, Stage.MASK)


def test_the_registry_is_the_one_list_of_tabs_and_of_their_scene_keys(qtbot):
    assert [cls.key for cls in tab_panel_classes()] == list(TAB_KEYS)
    assert len(set(TAB_KEYS)) == len(TAB_KEYS)
    for key in TAB_KEYS:  # a lesson may name any tab the window has
        parse_lesson(f'title = "t"\n[[scene]]\ntab = "{key}"\n', Path("t.toml"))
    with pytest.raises(Exception, match="tab must be one of"):
        parse_lesson('title = "t"\n[[scene]]\ntab = "nonsense"\n', Path("t.toml"))
    # lesson files accept exactly the window's keys and every panel's
    assert list(SCENE_KEYS) == [*WINDOW_KEYS, *panel_scene_keys(), *SCENE_ONLY_KEYS]
    assert len(STAGES) == 19 and list(STAGES) == [s.value for s in Stage]
    for key in TAB_KEYS:
        cls = tab(key).panel_class()
        panel = cls()
        qtbot.addWidget(panel)
        # what the panel saves and what the registry says it understands are the same keys
        assert set(panel.scene_values()) == set(tab(key).scene), key
        assert set(CHANGED.get(key, {})) == set(tab(key).scene), f"CHANGED misses a scene key of {key}"
        assert panel.apply_scene({}) == []
    # the export's views are the registry's, and every option a view reads is a command option
    assert set(VIEWS) == set(export_views())
    options = {action.dest for action in build_parser()._actions}
    for entry in PANELS:
        for view in entry.exports:
            assert set(view.options) <= options, view.name


def test_a_drift_preset_in_a_later_scene_replaces_the_sentences_typed_in_an_earlier_one():
    lesson = parse_lesson('''title = "t"
[[scene]]
drift_word = "bank"
drift_sentences = ["the river bank", "the bank rates"]
[[scene]]
tab = "head"
[[scene]]
drift = "mole"
''', Path("t.toml"))
    assert lesson.scenes[1].get("drift_word") == "bank"  # left out: stays as the scene before left it
    assert "drift_word" not in lesson.scenes[2].state and "drift_sentences" not in lesson.scenes[2].state
    with pytest.raises(Exception, match="drift_sentences must be a list of sentences"):
        parse_lesson('title = "t"\n[[scene]]\ndrift_sentences = ["a", 2]\n', Path("t.toml"))


def test_lesson_files_and_the_registry_import_no_qt():
    """Lesson files are read without Qt (``explorer.lesson_file`` reads the registry)."""
    code = ("import sys, explorer.lesson_file, explorer.views.registry; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'numpy')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_readme_names_every_scene_key_and_tab():
    text = README.read_text(encoding="utf-8")
    lesson_part = text[text.index("**Writing your own.**"):text.index("## 中文界面")]
    for key in SCENE_KEYS:
        assert f"`{key}`" in lesson_part or f"\n{key} = " in lesson_part, key
    assert "# " + ", ".join(TAB_KEYS) in lesson_part


def _state(panel, keys) -> dict:
    values = panel.scene_values()
    return {k: values[k] for k in keys}


def _select(window, layer: int, head: int, stage: Stage) -> None:
    window.set_selection(window.selection.with_(layer=layer, head=head, stage=STAGES.index(stage)))


def _ctrl_s(qtbot, window, n: int) -> None:
    qtbot.keyClick(window, Qt.Key_S, Qt.ControlModifier)  # the shortcut, not the method
    assert f"Saved as scene {n}" in window.banner.text(), window.banner.text()


def _shows(qtbot, window, panel, layer: int, head: int, stage: Stage) -> None:
    qtbot.waitUntil(lambda: window.current_tab_panel() is panel, timeout=10000)
    assert (window.selection.layer, window.selection.head) == (layer, head)
    assert window.selection.stage == STAGES.index(stage)
    assert not window.banner.property("error"), window.banner.text()


@pytest.mark.parametrize("key", TAB_KEYS)
def test_ctrl_s_on_every_tab_saves_its_state_and_the_lesson_brings_it_back(qtbot, make_window, tmp_path,
                                                                          monkeypatch, key):
    """Two scenes saved with Ctrl+S on the tab (its controls changed, then as they started) into
    the lesson file of a fresh data folder; replayed, each brings back the tab, the selection and
    the tab's controls."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the app's data folder on Linux
    window = make_window(text=TEXT)
    window.finish_building()
    target = window.user_lesson_path()
    assert target.name == USER_LESSON_FILE and target.is_relative_to(tmp_path / "data")
    panel = window.panel(key)
    changed = CHANGED.get(key, {})
    started = _state(panel, changed)
    assert all(started[k] != v for k, v in changed.items()), started  # else the replay could not fail

    window.show_tab(panel)
    _select(window, *FIRST)
    assert panel.apply_scene(changed) == []
    _ctrl_s(qtbot, window, 1)
    panel.apply_scene(started)
    _select(window, *SECOND)
    _ctrl_s(qtbot, window, 2)
    first, second = load_lesson(target).scenes
    assert first.values["tab"] == second.values["tab"] == key
    assert {k: first.values[k] for k in changed} == changed
    assert {k: second.values[k] for k in changed} == started

    window.show_tab(window.panel("head" if key != "head" else "next"))  # elsewhere, as scene 2 left it
    assert window.start_lesson(target)
    _shows(qtbot, window, panel, *FIRST)
    assert _state(panel, changed) == changed
    qtbot.keyClick(window, Qt.Key_PageDown)  # what a clicker sends
    _shows(qtbot, window, panel, *SECOND)
    assert _state(panel, changed) == started
    window.player.stop()


def test_a_replayed_drift_scene_traces_its_own_sentences(qtbot, make_window, tmp_path, monkeypatch):
    """The drift tab's typed word and sentences (not only its preset) come back, and are run."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    window = make_window(text=TEXT)
    window.finish_building()
    window.show_tab(window.drift)
    window.drift.apply_scene(CHANGED["drift"])
    _ctrl_s(qtbot, window, 1)
    window.drift.apply_scene({"drift": "mole"})
    window.show_tab(window.head_detail)
    assert window.start_lesson(window.user_lesson_path())
    qtbot.waitUntil(lambda: window.drift.drawn_texts == tuple(CHANGED["drift"]["drift_sentences"])
                    if window.drift.paths else False, timeout=10000)
    assert len(window.drift.paths) == 2 and "'king'" in window.drift.message.text()
    window.player.stop()


def _export_args(view: str) -> list[str]:
    if view == "drift":
        return ["--view", view, "--text", "the king sat | the king ran | a king", "--word", "king"]
    if view == "ab":
        return ["--view", view, "--text", "the king sat | the queen sat"]
    suffix = {"head": ":1.2", "step": ":1.2.-1"}.get(view, "")
    more = {"head": ["--mode", "rollout", "--3b1b", "--hide-first"], "next": ["--temperature", "0.5", "--top-k", "7"],
            "graph": ["--threshold", "0.2"], "dla": ["--contrast", " queen"], "step": ["--stage", "mask"]}
    return ["--view", view + suffix, "--text", TEXT, *more.get(view, [])]


#: the panel state each view's options above ask for (as the panel's scene values)
EXPORTED_STATE = {
    "head": {"mode": "rollout", "layout_3b1b": True, "hide_first": True},
    "next": {"temperature": 0.5, "top_k": 7},
    "drift": {"drift_word": "king", "drift_sentences": ["the king sat", "the king ran", "a king"]},
    "ab": {"prompt_b": "the queen sat"},
    "graph": {"threshold": 0.2},
    "dla": {"contrast": " queen"},
}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_every_view_exports_headlessly_to_png_and_csv_with_its_options_as_panel_state(
        qtbot, capsys, tmp_path, tiny_model_folder, monkeypatch, view):
    seen = []
    real_export = export_module.export_panel

    def export_panel(panel, path, width=None, title=""):  # the panel as it is written: its controls' state
        seen.append((panel.scene_values(), panel.selection))
        return real_export(panel, path, width, title)

    monkeypatch.setattr(export_module, "export_panel", export_panel)
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
        values, selection = seen[-1]
        assert {k: values[k] for k in EXPORTED_STATE.get(view, {})} == EXPORTED_STATE.get(view, {})
        if view == "step":
            assert selection.stage == STAGES.index(Stage.MASK)
