"""What keeps the GUI thread short on a real-sized model (issue #19): per-keystroke work
that does not grow with every head, or with every token that did not change."""

from __future__ import annotations


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
    window.text_box.setText("a dog sat on")  # an edit at the start moves every offset
    qtbot.waitUntil(lambda: window.trace.text == "a dog sat on", timeout=10000)
    trace = window.trace
    for i, (_text, tip) in enumerate(shown()):
        start, end = trace.offsets[i]
        assert f"position {i} · id {int(trace.token_ids[i])}" in tip
        if not trace.special[i]:
            assert f"characters {start}–{end}" in tip
    assert [c.isVisible() for c in strip.chips[: trace.n_tokens]] == [True] * trace.n_tokens
