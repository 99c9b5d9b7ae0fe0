"""The tied adaptive softmax (``ModelConfig.adaptive_tied``): every output token is scored
against its own embedding row, so a rare token has as wide an output vector as a frequent
one — what a copying head needs to name a token it has read."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.stepthrough import head_weights
from model.core.config import ModelConfig
from model.core.transformer import TiedAdaptiveSoftmax, Transformer
from model.core.weights import load_model, save_model
from tests.model.conftest import tiny_config
from tests.numerics import REL, assert_close, assert_differ, scale_of

OUT = tuple(range(3, 63))  # 60 output ids


def tied_model(**overrides) -> Transformer:
    torch.manual_seed(0)
    cfg = tiny_config(output_token_ids=OUT, adaptive_cutoffs=(10, 30), adaptive_tied=True, unembed_bias=True,
                      d_embed=48, **overrides)
    model = Transformer(cfg).eval()
    with torch.no_grad():
        model.unembed.bias.normal_()
    return model


def test_log_probabilities_are_normalised_and_the_loss_is_their_mean():
    model = tied_model()
    x = torch.randint(0, 200, (3, 9))
    logp = model(x)  # (B, T, 60)
    assert logp.shape == (3, 9, len(OUT))
    # log(Σ p) = 0 up to the roundoff of the log-probabilities summed: their scale, not 0's
    assert_close(torch.logsumexp(logp, dim=-1), 0.0, scale=scale_of(logp), what="logsumexp of log-probs")
    targets = torch.randint(0, len(OUT), (3, 9))
    targets[0, :4] = torch.tensor([0, 15, 40, 59])  # one target in each cluster at least
    expected = -logp.reshape(-1, len(OUT)).gather(1, targets.reshape(-1, 1)).mean()
    assert_close(model.loss(x, targets), expected, what="loss")


def test_a_rare_token_is_named_by_its_own_embedding():
    """With projections that pass a vector through unchanged, a hidden state equal to a
    token's embedding predicts that token — the rarest cluster included (an untied adaptive
    softmax gives that cluster d / div² dimensions and cannot)."""
    torch.manual_seed(1)
    cfg = tiny_config(output_token_ids=OUT, adaptive_cutoffs=(10, 30), adaptive_tied=True, d_embed=32)
    model = Transformer(cfg).eval()
    head: TiedAdaptiveSoftmax = model.unembed
    with torch.no_grad():
        model.tok_embed.weight.copy_(torch.nn.functional.normalize(torch.randn(200, 32), dim=-1))
        for proj in head.proj:
            proj.weight.copy_(torch.eye(32) * 20.0)
        head.cluster.weight.zero_()
        head.cluster.bias.copy_(torch.tensor([18.0, 18.0]))  # a tail cluster about as likely as a token read back
    for column in (2, 20, 55):  # shortlist, middle cluster, rarest cluster
        logp = model.unembed_logits(model.tok_embed.weight[OUT[column]].unsqueeze(0))
        assert int(logp.argmax()) == column


def test_the_output_vectors_are_the_embedding_not_a_copy():
    model = tied_model()
    x = torch.randint(0, 200, (1, 6))
    before = model(x)[0, -1]
    with torch.no_grad():
        model.tok_embed.weight[OUT[45]] += 3.0  # a token that is never input here
    after = model(x)[0, -1]
    changed = torch.nonzero((after - before).abs() > REL * scale_of(before)).flatten().tolist()  # beyond rounding
    assert 45 in changed  # its own output vector moved with its embedding row
    assert not any(c < 30 for c in changed)  # shortlist and other clusters' scores are untouched by that row


def test_saved_and_loaded_without_a_second_table(tmp_path):
    model = tied_model()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert loaded.cfg.adaptive_tied
    x = torch.randint(0, 200, (2, 7))
    assert_close(loaded(x), model(x), what="logits after a round trip")  # same weights, other buffers
    names = set(model.state_dict())
    assert not any(n.startswith("unembed") and "weight" in n and model.state_dict()[n].shape[0] == len(OUT)
                   for n in names)


def test_converting_an_adaptive_model_keeps_its_predictions_when_the_embedding_spans_them():
    """``with_tied_output`` starts each cluster's projection at the least-squares fit of the
    old output vectors; with more embedding dimensions than tokens per cluster the fit is
    exact, so the converted model predicts what the old one did."""
    from model.training.train import with_tied_output

    torch.manual_seed(2)
    cfg = tiny_config(output_token_ids=OUT, adaptive_cutoffs=(10, 30), d_embed=48, unembed_bias=True,
                      adaptive_div_value=2.0)
    old = Transformer(cfg).eval()
    new = with_tied_output(old).eval()
    assert new.cfg.adaptive_tied and isinstance(new.unembed, TiedAdaptiveSoftmax)
    x = torch.randint(0, 200, (2, 8))
    assert_close(new(x), old(x), what="converted vs old")
    for name, tensor in old.state_dict().items():
        if not name.startswith("unembed."):
            np.testing.assert_array_equal(new.state_dict()[name].numpy(), tensor.numpy(), err_msg=name)  # copied


def test_step_through_reads_the_shortlist_rows_through_the_projection():
    model = tied_model()
    weights = head_weights(model, model.tok_embed.weight.detach().numpy())
    head: TiedAdaptiveSoftmax = model.unembed
    h = torch.randn(32)
    delta = torch.randn(32)
    table = model.output_table()
    gain = head._logits((h + delta)[None], table, 0) - head._logits(h[None], table, 0)
    assert_close(weights.unembed @ delta.numpy(), gain[0], what="logit gain")
    assert list(weights.unembed_ids) == list(OUT[:10])


def test_tied_without_clusters_is_refused():
    with pytest.raises(ValueError, match="adaptive_tied"):
        ModelConfig(vocab_size=100, output_token_ids=tuple(range(20)), adaptive_tied=True)


@pytest.mark.parametrize("tied", [True, False])
def test_no_rows_give_no_logits(tied):
    """A keystroke that adds no token asks for the logits of zero new rows."""
    cfg = tiny_config(output_token_ids=OUT, adaptive_cutoffs=(10, 30), adaptive_tied=tied, d_embed=48)
    model = Transformer(cfg).eval()
    assert model.unembed_logits(torch.zeros(0, 32)).shape == (0, len(OUT))
    assert model.unembed_logits(torch.zeros(2, 0, 32)).shape == (2, 0, len(OUT))


def test_inference_reads_the_composed_vectors_and_follows_weight_changes():
    """At inference the layer multiplies by E_c P_c, kept per model: the same logits as the
    factorised form training uses, and recomputed when a projection or the table changes."""
    model = tied_model()
    x = torch.randint(0, 200, (2, 7))
    with torch.no_grad():
        fast = model(x)
    slow = model(x)  # grad enabled: the factorised form
    assert_close(fast, slow, what="composed vs factorised")
    with torch.no_grad():
        model.unembed.proj[1].weight.mul_(2.0)
        assert_close(model(x), model.unembed_logits(model.hidden(x)), what="after a projection changed")
        changed = model(x)
    assert_close(changed, model(x), what="composed vs factorised, projection changed")
    assert_differ(changed, fast, what="a doubled projection")
    with torch.no_grad():
        model.tok_embed.weight[OUT[40]] += 1.0  # a new table: the composed vectors follow
        after = model(x)
    assert_close(after, model(x), what="composed vs factorised, table changed")
