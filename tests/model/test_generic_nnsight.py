"""Architectures the app does not implement (Phi-3, GPT-NeoX, OLMo, StableLM), opened generically
through transformers and nnsight (model/formats/generic.py), equal to transformers itself.

Each model is a tiny random transformers model saved into a tmp folder with a byte-level BPE
trained offline. The references are transformers' own outputs (``output_attentions``,
``output_hidden_states``, the logits) and, for knock-out and patching, the same edit made by
hand with a plain torch pre-hook on the attention's output projection.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.core.errors import ModelFileError
from tests.model.conftest import train_byte_bpe
from tests.numerics import assert_close

pytest.importorskip("nnsight", reason="the generic source needs nnsight: pip install -e '.[nnsight]'")
transformers = pytest.importorskip("transformers")

from model.formats import generic  # noqa: E402
from model.loading import folder_kind, load_tracing_model  # noqa: E402
from model.work import probes  # noqa: E402
from model.work import requests as rq  # noqa: E402

REL = 1e-5
TEXT = "the king and the queen, the man and the woman"
TEXT_B = "the queen and the king, the man and the woman"  # the same tokens, two swapped
COMMON = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
              max_position_embeddings=64)
ARCHS = {
    "phi3-gqa": lambda V: transformers.Phi3Config(vocab_size=V, num_key_value_heads=2, pad_token_id=0, **COMMON),
    "gpt-neox-parallel": lambda V: transformers.GPTNeoXConfig(vocab_size=V, rotary_pct=0.5, use_parallel_residual=True,
                                                              **COMMON),
    "olmo": lambda V: transformers.OlmoConfig(vocab_size=V, pad_token_id=0, **COMMON),
    "stablelm-qkv-bias": lambda V: transformers.StableLmConfig(vocab_size=V, num_key_value_heads=2, use_qkv_bias=True,
                                                               **COMMON),
}


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """Weights far from the init (norm gains around 1, biases non-zero), so a wrong reading shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1 + 0.3 * noise if "norm" in name else 0.3 * noise)


@pytest.fixture(scope="module")
def tokenizer():
    return train_byte_bpe()


@pytest.fixture(scope="module", params=sorted(ARCHS))
def pair(request, tokenizer, tmp_path_factory):
    """(transformers' model with eager attention, the app's generic model of the same folder)."""
    folder = tmp_path_factory.mktemp(request.param)
    config = ARCHS[request.param](tokenizer.get_vocab_size())
    hf = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    randomise(hf)
    hf.save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    return hf, load_tracing_model(folder)


def ids_of(model, text: str) -> torch.Tensor:
    return torch.tensor([model.encode(text)[0].ids])


def test_folder_is_routed_to_the_generic_source(pair):
    hf, model = pair
    assert isinstance(model, generic.GenericTracingModel)
    info = model.info()
    assert info.generic and "opened generically" in info.generic
    assert info.head_weights is None  # the step-through says why, from info.generic
    assert (info.n_layers, info.n_heads, info.d_model) == (3, 4, 32)
    # the Anatomy tab counts every parameter once, by kind
    unique = {id(p): p for p in hf.parameters()}.values()
    assert info.structure.total == info.n_params == sum(p.numel() for p in unique)
    counts = {kind: n for kind, n, _ in info.structure.counts}
    dh, kv = model.cfg.d_head, model.cfg.n_kv_heads
    assert counts["W_K"] >= 3 * kv * dh * 32 and counts["W_O"] >= 3 * 4 * dh * 32 and counts["MLP"] > 0


def test_trace_equals_transformers(pair):
    hf, model = pair
    trace = model.trace(TEXT, logit_positions="all")
    with torch.no_grad():
        out = hf(torch.tensor([trace.token_ids.tolist()]), output_attentions=True, output_hidden_states=True)
    pattern = torch.stack([a[0] for a in out.attentions])
    assert_close(trace.pattern, pattern, rel=REL, what="patterns vs output_attentions")
    assert_close(trace.logits, out.logits[0], rel=REL, what="logits")
    assert_close(trace.probs, torch.softmax(out.logits[0], -1), rel=REL, what="next-token probabilities")
    for i in range(model.cfg.n_layers):  # hidden_states[i] enters layer i
        assert_close(trace.resid_pre[i], out.hidden_states[i][0], rel=REL, what=f"resid_pre {i}")
    assert_close(trace.final_norm, out.hidden_states[-1][0], rel=REL, what="final norm (the last hidden state)")
    # the scores are the model's: softmax of the masked scores gives its pattern back
    masked = torch.from_numpy(trace.masked_scores)
    assert_close(torch.softmax(masked, -1), pattern, rel=REL, what="softmax(masked scores)")
    # every head's output sums (with W_O's bias) to what the attention module adds
    layers = hf.get_submodule(model.module.layout.layers)
    for i in range(model.cfg.n_layers):
        o_proj = layers[i].get_submodule(model.module.layout.attn).get_submodule(model.module.layout.o_proj)
        bias = o_proj.bias.detach().numpy() if o_proj.bias is not None else 0.0
        assert_close(trace.head_out[i].sum(0) + bias, trace.attn_out[i], rel=REL, what=f"Σ head_out {i}")


def knocked_out_by_hand(hf, model, ids: torch.Tensor, heads) -> torch.Tensor:
    """The last position's logits with ``heads`` zeroed by a plain torch pre-hook on the
    attention's output projection: the reference the nnsight intervention must equal."""
    dh = model.cfg.d_head
    layers = hf.get_submodule(model.module.layout.layers)
    handles = []
    for layer in {h[0] for h in heads}:
        chosen = [h for hl, h in heads if hl == layer]
        o_proj = layers[layer].get_submodule(model.module.layout.attn).get_submodule(model.module.layout.o_proj)

        def zero(module, args, chosen=chosen):
            z = args[0].clone()
            for h in chosen:
                z[..., h * dh : (h + 1) * dh] = 0
            return (z,)

        handles.append(o_proj.register_forward_pre_hook(zero))
    try:
        with torch.no_grad():
            return hf(ids).logits[0, -1]
    finally:
        for handle in handles:
            handle.remove()


def test_knock_out_equals_a_hand_made_hook(pair):
    hf, model = pair
    heads = ((0, 1), (1, 3), (2, 0))
    ids = ids_of(model, TEXT)
    expected = knocked_out_by_hand(hf, model, ids, heads)
    result = probes.run(model, rq.Ablate(TEXT, heads=heads, mode="zero"))
    assert_close(result.logits, expected, rel=REL, what="knock-out vs torch hook")
    with torch.no_grad():
        clean = hf(ids).logits[0, -1]
    assert np.abs(result.logits - clean.numpy()).max() > 1e-2  # the knock-out changes the prediction
    # from the screen's trace's residual stream (the knock-out resumes at layer 0's input)
    shown = model.trace(TEXT)
    again = probes.run(model, rq.Ablate(TEXT, heads=((1, 3), (2, 0))), last_trace=shown)
    assert_close(again.logits, knocked_out_by_hand(hf, model, ids, ((1, 3), (2, 0))), rel=REL,
                 what="knock-out resumed from the trace's residual stream")


def test_mean_knock_out_equals_a_hand_made_hook(pair):
    """Mean ablation writes each head's mean z over the reference texts (as the model encodes
    them) in place of its z: the means and the result equal the same done with torch hooks."""
    from model.analysis.ablation import REFERENCE_TEXTS

    hf, model = pair
    H, dh = model.cfg.n_heads, model.cfg.d_head
    layers = hf.get_submodule(model.module.layout.layers)
    o_projs = [layers[i].get_submodule(model.module.layout.attn).get_submodule(model.module.layout.o_proj)
               for i in range(model.cfg.n_layers)]
    sums = [torch.zeros(H * dh, dtype=torch.float64) for _ in o_projs]
    count = 0
    def add(i):
        def hook(module, args):  # reads z, returns None: the input is left alone
            sums[i].add_(args[0][0].double().sum(0))
        return hook

    handles = [o.register_forward_pre_hook(add(i)) for i, o in enumerate(o_projs)]
    with torch.no_grad():
        for text in REFERENCE_TEXTS:
            ids = model.encode(text)[0].ids
            hf(torch.tensor([ids]))
            count += len(ids)
    for handle in handles:
        handle.remove()
    means = torch.stack([s / count for s in sums]).reshape(len(o_projs), H, dh).float()
    assert_close(model.reference_means(), means, rel=REL, what="reference means")
    heads = ((0, 3), (2, 2))

    def put(layer, head):
        def hook(module, args):
            z = args[0].clone()
            z[..., head * dh : (head + 1) * dh] = means[layer, head]
            return (z,)
        return hook

    handles = [o_projs[layer].register_forward_pre_hook(put(layer, head)) for layer, head in heads]
    with torch.no_grad():
        expected = hf(ids_of(model, TEXT)).logits[0, -1]
    for handle in handles:
        handle.remove()
    result = probes.run(model, rq.Ablate(TEXT, heads=heads, mode="mean"))
    assert_close(result.logits, expected, rel=REL, what="mean knock-out vs torch hooks")


def test_sweep_equals_hand_made_hooks(pair):
    """The sweep knocks out a different head in each batch row, resuming from the trace's
    residual stream: every row equals that head zeroed by hand."""
    hf, model = pair
    shown = model.trace(TEXT)
    ids = ids_of(model, TEXT)
    *_, (_d, _t, outcome) = probes.job_steps(model, rq.Sweep(TEXT, mode="zero"), last_trace=shown)
    token = outcome.token
    with torch.no_grad():
        base = torch.log_softmax(hf(ids).logits[0, -1], -1)[token]
    assert token == int(np.argmax(shown.logits[0]))
    for layer, head in ((0, 0), (1, 2), (2, 3)):
        knocked = torch.log_softmax(knocked_out_by_hand(hf, model, ids, ((layer, head),)), -1)[token]
        assert_close(outcome.delta[layer, head], knocked - base, rel=REL, scale=abs(float(base)),
                     what=f"sweep row of head {layer}.{head}")


def test_head_roles_read_the_same_patterns(pair):
    from model.analysis.heads import attention_patterns

    hf, model = pair
    rows = np.array([model.encode(TEXT)[0].ids, model.encode(TEXT_B)[0].ids])
    with torch.no_grad():
        out = hf(torch.from_numpy(rows), output_attentions=True)
    assert_close(attention_patterns(model.module, rows), torch.stack(out.attentions, dim=1), rel=REL,
                 what="a batch's patterns")


def test_patching_equals_a_hand_made_hook(pair):
    hf, model = pair
    ids_a, ids_b = ids_of(model, TEXT), ids_of(model, TEXT_B)
    assert ids_a.shape == ids_b.shape
    heads = ((0, 2), (2, 1))
    dh = model.cfg.d_head
    layers = hf.get_submodule(model.module.layout.layers)
    o_projs = {layer: layers[layer].get_submodule(model.module.layout.attn).get_submodule(model.module.layout.o_proj)
               for layer in (0, 2)}
    seen = {}
    handles = [o.register_forward_pre_hook(lambda m, a, layer=layer: seen.__setitem__(layer, a[0].clone()))
               for layer, o in o_projs.items()]
    with torch.no_grad():
        hf(ids_a)
    for handle in handles:
        handle.remove()

    def put(layer, head):
        def hook(module, args):
            z = args[0].clone()
            z[..., head * dh : (head + 1) * dh] = seen[layer][..., head * dh : (head + 1) * dh]
            return (z,)
        return hook

    handles = [o_projs[layer].register_forward_pre_hook(put(layer, head)) for layer, head in heads]
    with torch.no_grad():
        expected = hf(ids_b).logits[0, -1]
    for handle in handles:
        handle.remove()
    result = probes.run(model, rq.Patch(TEXT_B, source=TEXT, heads=heads))
    assert_close(result.logits_patched, expected, rel=REL, what="A/B patching vs torch hooks")
    with torch.no_grad():
        assert_close(result.logits_a, hf(ids_a).logits[0, -1], rel=REL, what="prompt A")


def test_logit_lens_reads_through_the_models_own_norm_and_head(pair):
    hf, model = pair
    trace = model.trace(TEXT)
    lens = probes.run(model, rq.Lens(TEXT), last_trace=trace)
    with torch.no_grad():
        out = hf(torch.tensor([trace.token_ids.tolist()]), output_hidden_states=True)
        norm = hf.get_submodule(model.module.layout.norm)
        expected = torch.softmax(hf.lm_head(norm(out.hidden_states[1][0])), -1)  # after layer 0
    assert_close(lens.top_probs[0, :, 0], expected.max(-1).values, rel=REL, what="lens after layer 0")
    np.testing.assert_array_equal(lens.top_ids[0, :, 0], expected.argmax(-1).numpy())
    # the last layer's lens is the model's own prediction
    np.testing.assert_array_equal(lens.top_ids[-1, -1, 0], int(np.argmax(trace.logits[0])))


def test_views_that_need_head_weights_say_why(pair):
    hf, model = pair
    with pytest.raises(ValueError, match="opened generically"):
        probes.run(model, rq.Dla(TEXT))
    with pytest.raises(ValueError, match="opened generically"):
        probes.run(model, rq.Block(TEXT, layer=0))


def test_sampling_draws_from_the_traced_distribution(pair):
    from model.tracer.generation import next_logits

    hf, model = pair
    ids = model.encode(TEXT)[0].ids
    with torch.no_grad():
        expected = hf(torch.tensor([ids])).logits[0, -1]
    assert_close(next_logits(model, ids), expected, rel=REL, what="next-token logits for sampling")


def test_the_model_picker_offers_generic_folders(tmp_path, tokenizer):
    from model.loading import available_models

    save_tiny(tmp_path / "models" / "tiny-olmo", tokenizer)
    choices = available_models((tmp_path / "models",), include_cache=False, include_ollama=False)
    [choice] = [c for c in choices if c.kind == "generic"]
    assert choice.name == "tiny-olmo (olmo, through transformers)" and choice.n_params > 0
    assert isinstance(load_tracing_model(choice.source), generic.GenericTracingModel)


# --------------------------------------------------------------------------- bad input
def save_tiny(folder, tokenizer, name="olmo"):
    hf = transformers.AutoModelForCausalLM.from_config(ARCHS[name](tokenizer.get_vocab_size()))
    hf.save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def test_a_folder_transformers_cannot_load_is_named(tmp_path, tokenizer):
    folder = save_tiny(tmp_path / "m", tokenizer)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFileError, match="model type 'olmo' is not supported natively.*opening it generically"):
        load_tracing_model(folder)


def test_attention_without_weights_is_refused(tmp_path, tokenizer, monkeypatch):
    """An SDPA-only implementation returns no weights: the load says so instead of tracing."""
    folder = save_tiny(tmp_path / "m", tokenizer)
    real = transformers.AutoModelForCausalLM.from_pretrained

    def sdpa_only(*args, **kwargs):
        hf = real(*args, **kwargs)
        hf.set_attn_implementation("sdpa")
        return hf

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", sdpa_only)
    with pytest.raises(ModelFileError, match="returns no weights"):
        load_tracing_model(folder)


def test_too_large_is_refused_before_loading(tmp_path, tokenizer, monkeypatch):
    import model.loading

    folder = save_tiny(tmp_path / "m", tokenizer)
    monkeypatch.setattr(model.loading, "available_memory", lambda: 10_000)

    def never(*args, **kwargs):
        raise AssertionError("the weights were loaded before the size check")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", never)
    with pytest.raises(ModelFileError, match="too large for this machine"):
        load_tracing_model(folder)


def test_without_nnsight_the_message_says_how_to_get_it(tmp_path, tokenizer, monkeypatch):
    folder = save_tiny(tmp_path / "m", tokenizer)
    assert folder_kind(folder) == "generic"
    monkeypatch.setattr(generic, "nnsight_installed", lambda: False)
    with pytest.raises(ModelFileError, match="'olmo' is not supported natively.*nnsight"):
        load_tracing_model(folder)


def test_the_bench_times_a_generic_model(tmp_path, tokenizer, capsys):
    from model.bench.generic import measure

    measure("olmo (generic)", save_tiny(tmp_path / "m", tokenizer), [16], runs=1)
    line = capsys.readouterr().out
    assert line.startswith("olmo (generic)") and "trace" in line and "hf" in line
