from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from model.core.paths import BUNDLED_MODEL_DIR
from model.core.transformer import Transformer
from model.tracer.runner import TracingModel
from model.training.tokens import OutputVocabulary
from model.training.train import (
    BOS_ID,
    finetune_learning_rate,
    learning_rate,
    make_batch,
    make_finetune_batch,
)
from tests.model.conftest import SENTENCES, tiny_config, train_wordpiece
from tests.numerics import REL64, assert_close


def test_the_shipped_weights_load_and_give_finite_predictions():
    if not (BUNDLED_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip("the bundled model is not in assets/teaching-model")
    model = TracingModel.from_folder(BUNDLED_MODEL_DIR)
    trace = model.trace("a fluffy blue creature roamed the verdant forest")
    finite = trace.logits[np.isfinite(trace.logits)]
    assert finite.size == len(model.cfg.output_token_ids) and np.isfinite(trace.pattern).all()
    assert_close(trace.probs.sum(), 1.0, what="probabilities summed")
    assert (model.cfg.n_layers, model.cfg.n_heads) == (4, 8)


def test_a_tiny_training_run_lowers_the_loss():
    torch.manual_seed(0)
    tok = train_wordpiece()
    ids = np.concatenate([np.array(tok.encode(s).ids) for s in SENTENCES * 20]).astype(np.int64)
    vocab = OutputVocabulary.from_counts(ids, 200, min_count=1, unk_id=1)
    cfg = tiny_config(bos_token_id=2, output_token_ids=tuple(int(i) for i in vocab.token_ids))
    model = Transformer(cfg)
    targets = vocab.targets(ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x, y = make_batch(ids, targets, np.random.default_rng(0), 8, 16)
    first = model.loss(x, y).item()
    for step in range(60):
        x, y = make_batch(ids, targets, np.random.default_rng([1, step]), 8, 16)
        loss = model.loss(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = make_batch(ids, targets, np.random.default_rng(0), 8, 16)
    assert model.loss(x, y).item() < 0.6 * first


def test_batches_start_with_bos_and_targets_are_the_next_tokens():
    ids = np.arange(1000, dtype=np.int64) % 50 + 5
    index_of = np.arange(60)
    x, y = make_batch(ids, index_of[ids], np.random.default_rng(3), 4, 16)
    assert (x[:, 0] == BOS_ID).all()
    torch.testing.assert_close(x[:, 1:], y[:, :-1])  # identity mapping: y is x shifted by one


def test_repeated_windows_hold_one_random_sequence_over_and_over():
    ids = np.random.default_rng(0).integers(5, 60, size=5000)
    index_of = np.arange(60)
    pool = np.arange(40, 60)
    x, y = make_batch(ids, index_of[ids], np.random.default_rng(4), 16, 128, index_of, repeat_fraction=1.0,
                      repeat_pool=pool)
    for row in y.numpy():
        assert np.isin(row, pool).all()
        periods = [n for n in range(8, 41) if np.array_equal(row[n:], row[:-n])]
        assert periods, "every repeated window is one segment tiled"
    torch.testing.assert_close(x[:, 1:], y[:, :-1])


def test_plain_windows_are_corpus_text():
    ids = np.random.default_rng(0).integers(5, 40, size=5000)
    index_of = np.arange(60)
    x, y = make_batch(ids, index_of[ids], np.random.default_rng(4), 16, 128, index_of, repeat_fraction=0.0,
                      repeat_pool=np.arange(40, 60))
    assert (y.numpy() < 40).all()


def test_the_learning_rate_warms_up_decays_then_runs_stage_two():
    args = argparse.Namespace(lr=2e-3, warmup=10, steps=100, stage2_steps=50, stage2_lr=1e-3)
    assert_close(learning_rate(0, args), 2e-4, REL64, what="step 0")
    assert_close(learning_rate(10, args), 2e-3, REL64, what="step 10")
    assert_close(learning_rate(99, args), 2e-4, 0.01, what="step 99")  # one step before the floor: within 1%
    assert_close(learning_rate(100, args), 1e-3, REL64, what="step 100")
    assert learning_rate(149, args) < learning_rate(100, args)


def test_copying_windows_repeat_a_random_sequence_or_a_span_of_the_text():
    ids = np.arange(100_000, dtype=np.int64) % 9000 + 1000  # text that never repeats within a window
    index_of = np.arange(20_000)
    pool = np.arange(100, 140)
    x, y = make_finetune_batch(ids, index_of[ids], np.random.default_rng(5), 64, 128, index_of, pool, 0.25, 0.25)
    assert (x[:, 0] == BOS_ID).all()
    torch.testing.assert_close(x[:, 1:], y[:, :-1])  # targets are the next tokens in every kind of row
    tiled = [r for r in range(64) if np.isin(x[r, 1:].numpy(), pool).sum() > 64]
    spans = [r for r in range(64) if r not in tiled and len(np.unique(x[r, 1:].numpy())) < 127 - 7]
    plain = [r for r in range(64) if r not in tiled and r not in spans]
    assert 8 <= len(tiled) <= 24 and 8 <= len(spans) <= 24 and len(plain) >= 20
    for r in tiled:  # after the text prefix, a period-n sequence
        row = x[r, 1:].numpy()
        start = int(np.argmax(np.isin(row, pool)))
        seq = row[start:]
        assert any((seq[n:] == seq[:-n]).all() for n in range(4, 41))


def test_continued_training_warms_up_then_decays_to_a_tenth():
    args = argparse.Namespace(finetune_lr=4e-4, finetune_steps=1000)
    assert_close(finetune_learning_rate(0, args), 4e-4 / 50, REL64, what="step 0")
    assert_close(finetune_learning_rate(50, args), 4e-4, REL64, what="step 50")
    assert_close(finetune_learning_rate(1000, args), 4e-5, REL64, what="step 1000")
