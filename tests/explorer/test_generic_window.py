"""Phi-3, GPT-NeoX and OLMo folders (architectures the app does not implement) open in the window through
transformers and nnsight: the grid shows transformers' own patterns, the status line says how
the model was opened, and the step-through says why it cannot step through its heads."""

from __future__ import annotations

import pytest

pytest.importorskip("nnsight", reason="the generic source needs nnsight: pip install -e '.[nnsight]'")
transformers = pytest.importorskip("transformers")

from tests.model.conftest import train_byte_bpe  # noqa: E402
from tests.numerics import assert_close  # noqa: E402

TEXT = "the king and the queen"
SHAPE = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=64)
CONFIGS = {
    "phi3": lambda V: transformers.Phi3Config(vocab_size=V, num_key_value_heads=2, pad_token_id=0, **SHAPE),
    "gpt-neox": lambda V: transformers.GPTNeoXConfig(vocab_size=V, **SHAPE),
    "olmo": lambda V: transformers.OlmoConfig(vocab_size=V, pad_token_id=0, **SHAPE),
}


@pytest.fixture(params=sorted(CONFIGS))
def generic_folder(request, tmp_path):
    import torch

    tokenizer = train_byte_bpe()
    config = CONFIGS[request.param](tokenizer.get_vocab_size())
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    hf.save_pretrained(tmp_path)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    return tmp_path, hf


def test_generic_model_opens_in_the_window(qtbot, make_window, generic_folder):
    import torch

    folder, hf = generic_folder
    window = make_window(source=folder, text=TEXT)
    assert window.model_info.generic
    assert "opened through transformers (generic)" in window.status_model.text()
    assert "opened generically" in window.status_model.toolTip()
    trace = window.trace
    with torch.no_grad():
        out = hf(torch.tensor([trace.token_ids.tolist()]), output_attentions=True)
    assert_close(trace.pattern, torch.stack([a[0] for a in out.attentions]), what="the window's patterns")
    from tests.explorer.test_step_through import make_panel

    panel = make_panel(qtbot, window.model_info, trace)
    assert panel.steps is None and "opened generically through transformers" in panel.canvas.message


def test_headless_export_of_a_generic_model(qtbot, capsys, tmp_path, generic_folder):
    """The grid's CSV holds transformers' patterns; DLA is refused in one line naming why (not
    as a bad --target)."""
    import csv

    import numpy as np
    import torch

    from explorer import app as app_module

    folder, hf = generic_folder
    out = tmp_path / "grid.csv"
    assert app_module.main(["export", "--model", str(folder), "--text", TEXT, "--view", "grid", "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    from model.loading import load_tracing_model

    ids = load_tracing_model(folder).encode(TEXT)[0].ids
    with torch.no_grad():
        pattern = torch.stack(hf(torch.tensor([ids]), output_attentions=True).attentions)[:, 0].numpy()
    assert len(rows) == pattern.size
    assert_close(np.array([float(r["weight"]) for r in rows]), pattern.reshape(-1), what="the grid's CSV")
    capsys.readouterr()
    code = app_module.main(["export", "--model", str(folder), "--text", TEXT, "--view", "dla",
                            "--out", str(tmp_path / "dla.png")])
    err = capsys.readouterr().err
    assert code == 2 and "opened generically" in err and "--target" not in err and len(err.strip().splitlines()) == 1
