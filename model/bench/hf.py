"""Our traced forward pass against ``transformers``' eager GPT-2 with ``output_attentions=True``.

Run ``python -m model.bench.hf`` (needs ``transformers``, a test-only dependency). Both sides
get the same GPT-2-small-shaped random weights (12 layers, 12 heads, d 768, vocabulary
50257) and the same token ids; each timed variant runs ≥ 20 times, interleaved round-robin
so background load hits every variant alike, on 2 torch threads.

Timed variants
--------------
``ours: trace``         ``TracingModel.trace(text)``: tokenize, forward with every capture,
                        logits at the last position, then the Trace (CPU numpy). Split into
                        ``of which forward`` (``Trace.forward_ms``) and ``the rest``
                        (tokenizing, stacking the captures, validating the Trace).
``ours: forward``       the forward pass with no captures: what the model costs by itself.
``hf: attentions``      ``model(ids, output_attentions=True)``: logits at every position.
``hf: like-for-like``   ``output_attentions`` and ``output_hidden_states``, ``logits_to_keep=1``:
                        what our trace computes, minus the per-head outputs and q/k/v.

The machine's load average is printed before and after: on a shared machine the minimum
is the steadier figure, the median the honest one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def _byte_tokenizer_file(folder: Path) -> Path:
    """A byte-level BPE with no merges: one token per byte, so n characters are n tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + 1, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=alphabet)
    tok.train_from_iterator(["abc"], trainer)
    from model.core.paths import TOKENIZER_FILE

    path = folder / TOKENIZER_FILE
    tok.save(str(path))
    return path


def _summary(times_ms: list[float]) -> tuple[float, float, float]:
    return min(times_ms), statistics.median(times_ms), float(np.percentile(times_ms, 95))


def trace_nbytes(trace) -> int:
    return sum(v.nbytes for v in vars(trace).values() if isinstance(v, np.ndarray))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args(argv)

    import transformers

    from model.formats.gpt2 import load_gpt2
    from model.tracer.runner import TracingModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257,
                                     bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    hf = transformers.GPT2LMHeadModel(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        hf.save_pretrained(folder)
        _byte_tokenizer_file(folder)
        module, tokenizer = load_gpt2(folder)
    ours = TracingModel(module, tokenizer, "bench")

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{torch.get_num_threads()} threads, {args.runs} runs per variant (+{args.warmup} warm-up), "
          f"load average at start {_load()}")
    for n_tokens in args.tokens:
        bench_length(ours, hf, n_tokens, args.runs, args.warmup)
    print(f"\nload average at end {_load()}")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def bench_length(ours, hf, n_tokens: int, runs: int, warmup: int) -> dict[str, tuple[float, float, float]]:
    """Time every variant at ``n_tokens`` tokens; print and return (min, median, p95) in ms."""
    text = ("abcdefghijklmnopqrstuvwxyz" * (n_tokens // 26 + 1))[: n_tokens - 1]  # + the BOS token
    trace = ours.trace(text)
    assert trace.n_tokens == n_tokens, trace.n_tokens
    ids = torch.tensor(trace.token_ids)[None]
    last = torch.tensor([n_tokens - 1])
    with torch.inference_mode():
        check = hf(ids, output_attentions=True)
    np.testing.assert_allclose(trace.logits[0], check.logits[0, -1].numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(trace.pattern, torch.cat(check.attentions).numpy(), atol=1e-5, rtol=1e-5)

    forward_ms: list[float] = []

    def ours_trace() -> None:
        forward_ms.append(ours.trace(text).forward_ms)

    @torch.inference_mode()
    def ours_forward() -> None:
        ours.module(ids, logit_positions=last)

    @torch.inference_mode()
    def hf_attentions() -> None:
        hf(ids, output_attentions=True)

    @torch.inference_mode()
    def hf_like_for_like() -> None:
        hf(ids, output_attentions=True, output_hidden_states=True, logits_to_keep=1)

    variants: dict[str, Callable[[], None]] = {
        "ours: trace": ours_trace,
        "ours: forward": ours_forward,
        "hf: attentions": hf_attentions,
        "hf: like-for-like": hf_like_for_like,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for rep in range(warmup + runs):
        for name in names[rep % len(names):] + names[: rep % len(names)]:  # rotate the order
            start = time.perf_counter()
            variants[name]()
            if rep >= warmup:
                times[name].append((time.perf_counter() - start) * 1000.0)
    times["  of which forward"] = forward_ms[warmup:]
    times["  of which the rest"] = [t - f for t, f in zip(times["ours: trace"], forward_ms[warmup:], strict=True)]
    summary = {name: _summary(t) for name, t in times.items()}
    print(f"\n{n_tokens} tokens   (one trace holds {trace_nbytes(trace) / 1e6:.1f} MB, "
          f"of which head_out {trace.head_out.nbytes / 1e6:.1f} MB)")
    print(f"  {'variant':<22}{'min ms':>9}{'median ms':>11}{'p95 ms':>9}")
    for name, (low, median, p95) in summary.items():
        print(f"  {name:<22}{low:>9.1f}{median:>11.1f}{p95:>9.1f}")
    for ref in ("hf: attentions", "hf: like-for-like"):
        ratio_med = summary["ours: trace"][1] / summary[ref][1]
        ratio_min = summary["ours: trace"][0] / summary[ref][0]
        print(f"  ours: trace / {ref:<18} {ratio_med:.2f} (median)  {ratio_min:.2f} (min)")
    return summary

if __name__ == "__main__":
    main()
