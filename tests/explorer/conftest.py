from __future__ import annotations

import os

import pytest
import torch
from PySide6.QtCore import QSettings

from model.core.transformer import Transformer
from model.core.weights import save_model
from tests.model.conftest import tiny_config, tracing_model, train_wordpiece, wordpiece_file  # noqa: F401 (fixtures)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def process_settings():
    """What ``explorer.app.main`` applies at start-up (GIL switch interval, torch threads),
    without freezing the garbage collector: tests create and drop many windows."""
    from explorer import runtime

    runtime.configure_process(freeze_after_load=False)


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory):
    """A random 2-layer, 4-head model with a BOS token over a word-piece tokenizer trained offline."""
    folder = tmp_path_factory.mktemp("tiny-model")
    torch.manual_seed(0)
    model = Transformer(tiny_config(bos_token_id=2, positional="sinusoidal", name="tiny"))
    save_model(model, folder)
    train_wordpiece().save(str(folder / "tokenizer.json"))
    return folder


@pytest.fixture
def settings(tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("language", "en")  # not the system's: tests read English texts on a Chinese machine too
    return settings


@pytest.fixture
def make_window(qtbot, settings, tiny_model_folder):
    from explorer.window import MainWindow

    windows = []

    def make(source=None, text="a fluffy blue creature", wait=True):
        window = MainWindow(source=str(source or tiny_model_folder), settings=settings, initial_text=text)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        if wait:
            qtbot.waitUntil(lambda: window.trace is not None and window.trace.text == text, timeout=10000)
        return window

    yield make
    for window in windows:
        window.worker.stop()
