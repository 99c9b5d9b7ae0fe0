"""The rest of the block after ΔE (issue #26): residual add, the normalisation with its numbers,
the MLP (up, activation, neurons, down), the residual add, and after the last block the final
norm, unembedding and the next token's logit — recomputed from the trace and the weights and
matching the forward pass to 1e-4 of each vector's scale on every family: the bundled model
(tied adaptive softmax), GPT-2, BERT and MiniLM (post-norm), Llama/Mistral/Qwen (SwiGLU),
SmolLM2, and the lesson models (no norm, no MLP)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.block_steps import activation_name, block_steps
from model.loading import load_tracing_model
from tests.model.conftest import requires_minilm, requires_smollm2
from tests.model.test_hf_bert import make_bert
from tests.model.test_hf_gpt2 import make_gpt2
from tests.model.test_hf_llama import FAMILIES
from tests.model.test_hf_llama import make as make_llama
from tests.numerics import REL64, assert_close

REL = 1e-4
TEXT = "the king and the queen, the man and the woman"


def _captures(model, trace):
    """What each block's MLP computed in a second forward pass, from hooks on its linears:
    per layer (up (T, m), gate (T, m) or None, hidden (T, m), the MLP's input (T, d))."""
    seen: dict = {}
    hooks = []
    for layer, block in enumerate(model.module.blocks):
        if block.mlp is None:
            continue
        mlp = block.mlp
        hooks.append(mlp.fc.register_forward_hook(lambda m, a, out, L=layer: seen.__setitem__((L, "up"), out[0])))
        hooks.append(mlp.fc.register_forward_pre_hook(lambda m, a, L=layer: seen.__setitem__((L, "in"), a[0][0])))
        hooks.append(mlp.proj.register_forward_pre_hook(lambda m, a, L=layer: seen.__setitem__((L, "hidden"), a[0][0])))
        if mlp.gate is not None:
            hooks.append(mlp.gate.register_forward_hook(lambda m, a, out, L=layer: seen.__setitem__((L, "gate"), out[0])))
    try:
        with torch.inference_mode():
            model.module(torch.tensor(trace.token_ids)[None])
    finally:
        for h in hooks:
            h.remove()
    return {k: v.double().numpy() for k, v in seen.items()}


def check_blocks(model, text=TEXT, positions=(0, -1)):
    """Every block at ``positions`` against the trace and the MLP's own intermediate values."""
    trace = model.trace(text, logit_positions="all" if model.has_lm_head else "last")
    captured = _captures(model, trace)
    steps = []
    for layer in range(trace.n_layers):
        for position in positions:
            i = position % trace.n_tokens
            st = block_steps(model.module, trace, layer, position)
            assert st.query == i and st.token == trace.token_strings[i]
            assert st.worst_check <= REL, st.checks
            assert_close(st.attn_out, trace.attn_out[layer, i], REL, what="Σ heads + b_O")
            assert_close(st.resid_mid, trace.resid_mid[layer, i], REL, what="resid_mid")
            assert_close(st.mlp_out, trace.mlp_out[layer, i], REL, what="mlp_out")
            assert_close(st.resid_post, trace.resid_post[layer, i], REL, what="resid_post")
            assert_close(st.attn_sum, trace.resid_pre[layer, i] + trace.attn_out[layer, i], REL, what="x + attention")
            if st.mlp is not None:
                mlp = st.mlp
                assert_close(mlp.x, captured[layer, "in"][i], REL, what="the MLP's input")
                assert_close(mlp.up, captured[layer, "up"][i], REL, what="up projection")
                assert_close(mlp.hidden, captured[layer, "hidden"][i], REL, what="after the activation")
                if mlp.gated:
                    assert_close(mlp.gate, captured[layer, "gate"][i], REL, what="gate projection")
                    assert_close(mlp.hidden, mlp.activated * mlp.up, REL64, what="act(g) ⊙ u")
                # the ten most active neurons, largest |h_n| first, and what each writes
                k = min(10, mlp.width)
                assert len(mlp.top_neurons) == k and len(set(mlp.top_neurons.tolist())) == k
                assert np.all(np.diff(np.abs(mlp.top_hidden)) <= 0)
                assert np.abs(mlp.top_hidden[-1]) >= np.sort(np.abs(mlp.hidden))[-k]
                assert_close(mlp.top_hidden, mlp.hidden[mlp.top_neurons], REL64, what="listed activations")
                w_down = model.module.blocks[layer].mlp.proj.weight.detach().double().numpy()
                assert_close(mlp.top_write, mlp.top_hidden[:, None] * w_down[:, mlp.top_neurons].T, REL, what="writes")
            steps.append(st)
    return trace, steps


def _check_norm_numbers(norm):
    """The statistics shown are the ones that give the output shown."""
    x = norm.x
    if norm.kind == "LayerNorm":
        assert norm.mean == pytest.approx(x.mean(), rel=1e-12, abs=1e-12)
        assert norm.variance == pytest.approx(x.var(), rel=1e-12)
        assert norm.scale == pytest.approx(np.sqrt(x.var() + norm.eps), rel=1e-12)
        assert_close(norm.normalised, (x - x.mean()) / norm.scale, REL64, what="(x − μ)/σ")
        assert_close(norm.out, norm.normalised * norm.gamma + norm.beta, REL64, what="γ, β")
    elif norm.kind == "RMSNorm":
        assert norm.mean is None and norm.beta is None
        assert norm.scale == pytest.approx(np.sqrt((x**2).mean() + norm.eps), rel=1e-12)
        assert_close(norm.out, x / norm.scale * norm.gamma, REL64, what="x / rms ⊙ γ")


def _check_output(trace, st, linear: bool):
    out = st.output
    assert out is not None and st.stages[-2:] == ("final_norm", "unembed")
    i = st.query
    assert_close(out.norm.out, trace.final_norm[i], REL, what="final norm")
    _check_norm_numbers(out.norm)
    logits = trace.logits_at(i)
    assert out.target == int(np.argmax(logits))  # by default: the model's top prediction
    assert out.top_ids[0] == out.target
    if linear:  # a linear head's logit is the trace's own
        scale = float(np.abs(logits[np.isfinite(logits)]).max())
        assert out.logit == pytest.approx(float(logits[out.target]), rel=REL, abs=REL * scale)
    assert_close(out.top_values, logits[out.top_ids], REL, what="top next tokens")


def test_bundled_model_tied_adaptive_softmax():
    model = load_tracing_model("bundled")
    trace, steps = check_blocks(model, "the cat sat on the mat . the cat sat on the")
    st = steps[-1]
    assert st.placement == "pre" and st.norm_mlp.kind == "LayerNorm" and st.mlp.activation == "GELU"
    assert st.stages == ("attn_add", "mlp_norm", "mlp_up", "mlp_activation", "mlp_neurons", "mlp_down", "mlp_add",
                         "final_norm", "unembed")
    assert steps[0].stages[-1] == "next_block" and steps[0].next_layer == 1
    for s in steps:
        _check_norm_numbers(s.norm_mlp)
    _check_output(trace, st, linear=False)
    assert "adaptive" in st.output.kind
    # the adaptive softmax's score is linear in the normed vector: the module's own head agrees
    from model.analysis.dla import attribute

    assert st.output.logit == pytest.approx(attribute(model.module, trace, -1, st.output.target).logit, rel=REL)


def test_gpt2(tmp_path):
    make_gpt2(tmp_path)
    model = load_tracing_model(tmp_path)
    trace, steps = check_blocks(model)
    st = steps[-1]
    assert st.mlp.activation == "GELU (tanh)" and not st.mlp.gated  # GPT-2's gelu_new
    assert st.attn_bias.any()
    _check_output(trace, st, linear=True)
    # a chosen token: its logit is the trace's, and each listed neuron's effect on it is the
    # neuron's write read through the final norm with its scale frozen
    other = int(np.argsort(-trace.logits_at(-1))[3])
    chosen = block_steps(model.module, trace, trace.n_layers - 1, -1, target=other)
    assert chosen.output.target == other
    assert chosen.output.logit == pytest.approx(float(trace.logits_at(-1)[other]), rel=REL, abs=REL)
    ln = model.module.ln_f
    v = ln.weight.detach().double().numpy() * chosen.output.direction / chosen.output.norm.scale
    assert_close(chosen.mlp.top_logit, (chosen.mlp.top_write - chosen.mlp.top_write.mean(1, keepdims=True)) @ v,
                 1e-6, what="neuron → logit")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_llama_family_swiglu_rmsnorm(tmp_path, family):
    make_llama(tmp_path, family)
    model = load_tracing_model(tmp_path)
    trace, steps = check_blocks(model)
    st = steps[-1]
    assert st.mlp.activation == "SwiGLU" and st.mlp.gated and st.norm_mlp.kind == "RMSNorm"
    for s in steps:
        _check_norm_numbers(s.norm_mlp)
    _check_output(trace, st, linear=True)


def test_bert_post_norm_add_and_norm(tmp_path):
    make_bert(tmp_path)
    model = load_tracing_model(tmp_path)
    trace, steps = check_blocks(model)
    for st in steps:
        assert st.placement == "post" and st.norm_mlp is None
        # Add & Norm after attention gives resid_mid; after the MLP, resid_post
        assert_close(st.norm_attn.x, st.attn_sum, REL64, what="norm₁ reads x + attention")
        assert_close(st.norm_attn.out, trace.resid_mid[st.layer, st.query], REL, what="Add & Norm 1")
        assert_close(st.norm_out.x, st.resid_mid + st.mlp_out, REL64, what="norm₂ reads x_mid + MLP")
        assert_close(st.norm_out.out, trace.resid_post[st.layer, st.query], REL, what="Add & Norm 2")
        _check_norm_numbers(st.norm_attn)
        _check_norm_numbers(st.norm_out)
        assert st.mlp.x is not None and st.mlp.activation == "GELU"
    last = steps[-1]
    assert last.stages == ("attn_add", "attn_norm", "mlp_up", "mlp_activation", "mlp_neurons", "mlp_down",
                           "mlp_add", "mlp_norm")
    assert last.output is None and "no language-model head" in last.output_note


@requires_minilm
def test_minilm():
    model = load_tracing_model("minilm")
    _, steps = check_blocks(model, "the eiffel tower is in paris")
    assert steps[-1].placement == "post" and steps[-1].output is None


@requires_smollm2
def test_smollm2():
    model = load_tracing_model("smollm2")
    trace, steps = check_blocks(model, "When Mary and John went to the store, John gave a drink to", positions=(-1,))
    st = steps[-1]
    assert st.mlp.activation == "SwiGLU" and st.norm_mlp.kind == "RMSNorm"
    _check_output(trace, st, linear=True)


def test_lesson_model_without_norms_or_mlp():
    model = load_tracing_model("lesson:seed-003")
    _trace, steps = check_blocks(model, "your journey starts with one step")
    st = steps[-1]
    assert st.mlp is None and not st.mlp_out.any()
    if st.placement == "pre":
        assert st.norm_mlp.kind == "none" and st.stages[0] == "attn_add"


def test_activation_names():
    from model.core.config import ModelConfig

    def name(**kw):
        return activation_name(ModelConfig(vocab_size=10, **kw))[0]

    assert name(activation="gelu") == "GELU" and name(activation="silu", gated_mlp=True) == "SwiGLU"
    assert name(activation="gelu", gated_mlp=True) == "GeGLU" and name(activation="relu") == "ReLU"


def test_bad_requests_say_what_is_wrong():
    model = load_tracing_model("bundled")
    trace = model.trace("the cat sat")
    with pytest.raises(ValueError, match="no layer 9"):
        block_steps(model.module, trace, 9, 0)
    with pytest.raises(ValueError, match="outside the"):
        block_steps(model.module, trace, 0, 40)
    with pytest.raises(ValueError, match="no head 8"):
        block_steps(model.module, trace, 0, 0, head=8)


def test_the_results_import_without_torch():
    """A view can name BlockSteps before torch loads (the window shows first, issue #19)."""
    import subprocess
    import sys
    from pathlib import Path

    script = "import sys\nfrom model.analysis.block_steps import BlockSteps, MlpStep, NormStep\nprint('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
