"""Where the files that ship with the app live."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"  # model/core/paths.py → the repository
BUNDLED_MODEL_DIR = ASSETS_DIR / "teaching-model"
LESSONS_DIR = ASSETS_DIR / "lessons"

#: The name of the teaching model that ships in ASSETS_DIR (``--model bundled``).
BUNDLED = "bundled"
#: Its name on screen.
BUNDLED_NAME = "teaching model (bundled)"

#: The files of a model folder in this app's own format (:mod:`model.core.weights`).
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
