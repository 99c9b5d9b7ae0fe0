from __future__ import annotations

import pytest

from model.errors import ModelFileError
from model.loading import load_tracing_model
from model.weights import save_model


def test_loads_a_model_folder(tmp_path, tiny_model, wordpiece_file):
    folder = save_model(tiny_model, tmp_path / "m")
    (folder / "tokenizer.json").write_bytes(wordpiece_file.read_bytes())
    assert load_tracing_model(str(folder)).trace("the mole").n_tokens == 2


def test_wrong_paths_are_explained(tmp_path):
    with pytest.raises(ModelFileError, match="no such file or folder"):
        load_tracing_model(tmp_path / "missing")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ModelFileError, match="expected a model folder"):
        load_tracing_model(f)
