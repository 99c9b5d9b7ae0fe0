"""How far 8-bit weights move what the app shows: measured on text, never assumed.

For a model converted by :func:`model.core.int8.to_int8`, each text runs twice through the
same module — once on the int8 path, once with :class:`~model.core.int8.exact_float32` — and
three figures summarise the difference over every position of every text:

* **top-1 agreement**: the share of positions whose most likely next token is the same;
* **largest attention-pattern difference**: max |A_int8 − A_float32| over every head, query
  and key (weights are in 0..1);
* **KL divergence** of the next-token distribution, KL(p_float32 ‖ p_int8) in nats, mean and
  largest over positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from model.core.int8 import exact_float32

# Calibration (SmoothQuant's channel peaks) and held-out sentences are different texts.
CALIBRATION_TEXTS = (
    "The committee met on Tuesday to discuss the budget for the coming year, and most members agreed.",
    "She opened the window, listened to the rain for a while, and then went back to her book.",
    "In 1969 two astronauts walked on the Moon while a third waited for them in orbit.",
    "Water boils at one hundred degrees Celsius at sea level, but at a lower temperature on a mountain.",
    "apple, river, candle, mountain, pencil, garden. apple, river, candle, mountain, pencil, garden.",
)

#: Held-out English sentences (none in the calibration): the fidelity figures of docs/benchmarks.md.
HELD_OUT_TEXTS = (
    "The old lighthouse keeper climbed the spiral stairs every evening to light the lamp.",
    "When the rain finally stopped, the children ran outside to splash in the puddles.",
    "Scientists measured the temperature of the lake at different depths over three summers.",
    "She opened the letter slowly, afraid of what the words inside might say.",
    "The train to the coast leaves at nine, but most travellers arrive an hour early.",
    "A good teacher explains an idea twice: once with words and once with a picture.",
    "In the market square, merchants sold bread, cheese, apples and bright woollen scarves.",
    "The committee could not agree, so the decision was postponed until the next meeting.",
    "My grandfather planted an oak tree in the garden on the day my mother was born.",
    "The recipe asks for two eggs, a cup of flour and a pinch of salt, mixed gently.",
    "Astronomers believe the faint light comes from a galaxy billions of years old.",
    "He forgot his umbrella on the bus and walked home through the storm without it.",
)

#: Held-out Chinese sentences, measured too for a model that reads Chinese (Gemma 3): a
#: Chinese classroom's text, not only English, decides whether smaller weights keep the answer.
HELD_OUT_CHINESE = (
    "我今天很高兴，因为天气很好。",
    "北京是中国的首都，也是一座历史悠久的城市。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "老师在黑板上写了一道题，同学们都认真地思考。",
)


def held_out_texts(vocabulary) -> tuple[str, ...]:
    """The held-out sentences for a model with ``vocabulary``: the English ones, and the
    Chinese ones when it holds Chinese characters as tokens."""
    from model.analysis.tokens import whole_character_share

    reads_chinese = whole_character_share(vocabulary, "".join(HELD_OUT_CHINESE)) >= 0.9
    return HELD_OUT_TEXTS + (HELD_OUT_CHINESE if reads_chinese else ())


@dataclass(frozen=True)
class Fidelity:
    texts: int
    positions: int
    top1_agreement: float  # 0..1
    max_pattern_diff: float
    mean_kl: float  # nats
    max_kl: float

    def summary(self) -> str:
        return (f"top-1 agreement {100 * self.top1_agreement:.1f}% over {self.positions} positions, "
                f"largest pattern difference {self.max_pattern_diff:.4f}, "
                f"KL {self.mean_kl:.4f} nats (max {self.max_kl:.3f})")


def _run(module: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities at every position (T, V), patterns (L, H, T, T))."""
    cache: dict[str, torch.Tensor] = {}
    T = ids.shape[1]
    logits = module(ids, cache=cache, logit_positions=torch.arange(T, device=ids.device))[0]
    patterns = torch.stack([cache[f"blocks.{i}.attn.pattern"][0] for i in range(module.cfg.n_layers)])
    return torch.log_softmax(logits.float(), dim=-1), patterns.float()


def measure(module: torch.nn.Module, texts: Iterable[Sequence[int]]) -> Fidelity:
    """Compare ``module``'s 8- or 16-bit path with its float32 path on token-id sequences ``texts``."""
    result = None
    for step in measure_steps(module, texts):
        result = step
    if result is None:
        raise ValueError("no tokens to measure fidelity on")
    return result


def measure_steps(module: torch.nn.Module, texts: Iterable[Sequence[int]]) -> Iterator[Fidelity]:
    """:func:`measure` one text at a time: yields the figures over the texts so far after
    each (non-empty) text, so a model thread can measure between two keystrokes."""
    n_texts = positions = agree = 0
    max_pattern = max_kl = kl_sum = 0.0
    device = next(module.parameters()).device
    for ids in texts:
        if len(ids) == 0:
            continue
        with torch.inference_mode():
            idx = torch.as_tensor(list(ids), dtype=torch.long, device=device).unsqueeze(0)
            logp8, pat8 = _run(module, idx)
            with exact_float32(module):
                logp32, pat32 = _run(module, idx)
            kl = (logp32.exp() * (logp32 - logp8)).sum(-1).clamp_min(0)  # (T,)
            agree += int((logp8.argmax(-1) == logp32.argmax(-1)).sum())
            positions += idx.shape[1]
            n_texts += 1
            kl_sum += float(kl.sum())
            max_kl = max(max_kl, float(kl.max()))
            max_pattern = max(max_pattern, float((pat8 - pat32).abs().max()))
        yield Fidelity(n_texts, positions, agree / positions, max_pattern, kl_sum / positions, max_kl)
