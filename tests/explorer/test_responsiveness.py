"""What keeps the GUI thread short on a real-sized model (issue #19): per-keystroke work
that does not grow with every head, or with every token that did not change."""

from __future__ import annotations

import numpy as np

from tests.numerics import assert_close


def test_the_head_views_mask_for_one_head_is_the_traces_mask(tracing_model):
    """The head view reads one head's −∞ cells without masking every head (35-50 ms a key
    for GPT-2 small at 256 tokens); causal, sliding-window and bidirectional traces."""
    from dataclasses import replace

    import numpy as np

    from explorer.views.head_detail import hidden_keys

    causal = tracing_model.trace("the cat sat on the mat and the dog sat too", 1)
    windowed = replace(causal, sliding_window=3)
    both_ways = replace(causal, causal=False)
    for trace in (causal, windowed, both_ways):
        for layer in range(trace.n_layers):
            for head in range(trace.pattern.shape[1]):
                expected = np.isneginf(trace.masked_scores[layer, head])
                assert np.array_equal(hidden_keys(trace, layer, head), expected)
    assert hidden_keys(windowed, 0, 0).sum() > hidden_keys(causal, 0, 0).sum() > 0


def test_token_chips_that_a_keystroke_does_not_change_keep_their_text_and_tooltip_right(qtbot, make_window):
    window = make_window(text="the cat sat")
    strip = window.token_strip

    def shown():
        trace = window.trace
        return [(c.text(), c.toolTip()) for c in strip.chips[: trace.n_tokens]]

    before = shown()
    window.text_box.setText("the cat sat on")
    qtbot.waitUntil(lambda: window.trace.text == "the cat sat on", timeout=10000)
    after = shown()
    assert after[: len(before)] == before  # the unchanged prefix
    assert len(after) > len(before) and "on" in after[-1][0]
    # an edit at the start moves every offset; a second space moves later offsets but no
    # token; a deletion hides chips; an edit inside a word changes one token mid-text
    for text in ("a dog sat on", "a dog  sat on", "a dog", "a dig sat on"):
        window.text_box.setText(text)
        qtbot.waitUntil(lambda t=text: window.trace.text == t, timeout=10000)
        trace = window.trace
        for i, (label, tip) in enumerate(shown()):
            start, end = trace.offsets[i]
            assert f"position {i} · id {int(trace.token_ids[i])}" in tip, text
            if not trace.special[i]:
                assert f"characters {start}–{end}" in tip, text
                assert label.lstrip("#") in text[start:end].lower() or "→" in label, (text, label)
        assert [c.isVisible() for c in strip.chips[: trace.n_tokens]] == [True] * trace.n_tokens
        assert not any(c.isVisible() for c in strip.chips[trace.n_tokens:])


def test_the_grid_pools_each_head_to_the_pixels_it_gets_on_screen(qtbot, make_window, tmp_path):
    """A long text in a small pane: each head's tile has no more pixels than the screen gives
    it (a GPT-2 mosaic at 256 tokens was 3x the pixels shown), a block keeps its largest
    weight, and a larger pane pools finer."""
    import torch

    from model.core.transformer import Transformer
    from model.core.weights import save_model
    from tests.model.conftest import tiny_config, train_wordpiece

    folder = tmp_path / "long"
    torch.manual_seed(0)
    save_model(Transformer(tiny_config(bos_token_id=2, positional="sinusoidal", n_ctx=128, n_heads=8, name="long")), folder)
    train_wordpiece().save(str(folder / "tokenizer.json"))
    text = " ".join(["the king and the queen walked"] * 20)
    window = make_window(folder, text=text)
    grid = window.heads_grid
    T = window.trace.n_tokens
    assert T > 100

    def tile_pixels() -> int:  # rows of one head's tile in the mosaic image
        return -(-T // grid._factor())

    def screen_pixels() -> float:
        box = grid.plot.vb.boundingRect()
        return min(box.width() / window.trace.n_heads, box.height() / window.trace.n_layers)

    window.resize(900, 700)
    window.splitter.setSizes([250, 650])
    qtbot.waitUntil(lambda: grid._max_tile == grid._screen_tile(), timeout=5000)
    qtbot.wait(100)
    small = tile_pixels()
    assert small <= max(16, screen_pixels() + 8) and small < T
    mosaic = grid.image.image
    assert mosaic.shape[0] == window.trace.n_layers * (small + 1) - 1  # tiles and 1-pixel gaps
    # a block shows its largest weight: the first key column of head 0.0's tile
    f = grid._factor()
    pattern = window.trace.pattern[0, 0]
    expected = pattern[:f, :f].max()
    assert_close(mosaic[0, 0], expected, what="the block's largest weight")

    window.resize(1800, 1000)
    window.splitter.setSizes([1200, 600])
    qtbot.waitUntil(lambda: grid._max_tile == grid._screen_tile() and tile_pixels() > small, timeout=5000)


def test_pooling_while_the_text_grows_equals_pooling_from_scratch(qtbot):
    """The grid re-pools only the rows a keystroke changed, and when the text grows past a
    power of two the last mosaic is pooled 2 x 2 again: both equal pooling every pattern
    from scratch (random causal patterns, growing, edited mid-text, shrinking)."""
    from types import SimpleNamespace

    from explorer.views.heads_grid import HeadsGridPanel, block_factor, pooled

    rng = np.random.default_rng(0)
    panel = HeadsGridPanel()
    qtbot.addWidget(panel)
    ids = list(rng.integers(0, 50, size=10))
    full = rng.random((2, 3, 200, 200)).astype(np.float32)  # rows of weights the prefix keeps
    for step in range(120):
        action = rng.random()
        if action < 0.75:
            ids += list(rng.integers(0, 50, size=int(rng.integers(1, 4))))
        elif action < 0.9 and len(ids) > 5:
            k = int(rng.integers(0, len(ids)))
            ids[k] = 100 + step  # an edit mid-text: the rows from there on change (causal)
            full[:, :, k:, :] = rng.random(full[:, :, k:, :].shape)
        elif len(ids) > 5:
            ids = ids[: len(ids) - int(rng.integers(1, 4))]
        ids = ids[:200]
        T = len(ids)
        pattern = np.tril(full[:, :, :T, :T])
        trace = SimpleNamespace(causal=True, token_ids=np.array(ids), pattern=pattern)
        factor = block_factor(T, 24)
        assert factor & (factor - 1) == 0  # a power of two
        # the largest of the same numbers: exact, however it is computed
        np.testing.assert_array_equal(panel._pool(trace, factor), pooled(pattern, factor), err_msg=str(step))
