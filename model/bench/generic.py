"""Whole passes of generically opened models: ``python -m model.bench.generic [--runs N] [--threads T]``.

Builds random models of GPT-2 small's shape (12 layers, 12 heads, d 768; a byte-level BPE of
about 2,000 tokens trained on a paragraph, so the embedding is small and the blocks dominate) in
a temporary folder: a Phi-3 and a GPT-NeoX, which the app opens generically through
transformers and nnsight (model/formats/generic.py), and a Llama of the same shape, which it
implements natively. For T tokens it prints the median wall time of

* ``trace``: ``TracingModel.trace`` (every head's pattern, q/k/v, scores, head outputs, the
  residual stream: the whole Trace), a full forward pass each time, no incremental reuse;
* ``hf``: transformers' own forward of the same ids with ``output_attentions`` and
  ``output_hidden_states`` (no nnsight): the floor the generic trace adds its reading to;
* ``knock-out``: the logits with two heads knocked out (an nnsight intervention).

The Llama row is the app's own module doing a full pass (``incremental`` off) for comparison.
The machine may be shared: run it more than once and compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from model.loading import load_tracing_model
from model.work import probes
from model.work import requests as rq

PROSE = ("Type in the box at the top; the token strip under it shows how the model cut the text. The left "
         "half is every head of every layer as one grid, rows are queries and columns are keys: hover for "
         "layer, head, tokens and weight, click a head to enlarge it. The bars beside it answer where the "
         "selected token looks, and the next token tab shows the most likely next tokens with their odds. ")
SHAPE = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
             max_position_embeddings=1024)


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([PROSE] * 4, trainer)
    return tok


def build(root: Path) -> dict[str, Path]:
    import transformers

    tok = tokenizer()
    V = tok.get_vocab_size()
    configs = {
        "phi3 (generic)": transformers.Phi3Config(vocab_size=V, pad_token_id=0, **SHAPE),
        "gpt-neox (generic)": transformers.GPTNeoXConfig(vocab_size=V, **SHAPE),
        "llama (native)": transformers.LlamaConfig(vocab_size=V, **SHAPE),
    }
    folders = {}
    for name, config in configs.items():
        torch.manual_seed(0)
        folder = root / name.split()[0]
        transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)
        tok.save(str(folder / "tokenizer.json"))
        folders[name] = folder
    return folders


def median_ms(fn, runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(name: str, folder: Path, lengths: list[int], runs: int) -> None:
    """One line per length: the medians of a trace, a knock-out and (generic) transformers' forward."""
    model = load_tracing_model(folder, max_tokens=max(lengths))
    model.incremental = False  # whole passes for every row
    hf = getattr(model.module, "hf", None)
    L = model.cfg.n_layers
    heads = ((L // 4, 1), (L // 2 + 1, model.cfg.n_heads - 1))  # 3.1 and 7.11 in GPT-2 small's shape
    for T in lengths:
        text = model.tokenizer.decode(model.encode(PROSE * 4)[0].ids[:T])
        idx = torch.tensor([model.encode(text)[0].ids])
        trace_ms = median_ms(lambda: model.trace(text), runs)  # noqa: B023 - called before the next length
        knock_ms = median_ms(lambda: probes.run(model, rq.Ablate(text, heads=heads)), runs)  # noqa: B023
        line = f"{name:20s} T={idx.shape[1]:4d}  trace {trace_ms:8.1f} ms  knock-out {knock_ms:8.1f} ms"
        if hf is not None:
            def floor():
                with torch.inference_mode():
                    hf(idx, output_attentions=True, output_hidden_states=True, use_cache=False)  # noqa: B023

            line += f"  hf {median_ms(floor, runs):8.1f} ms"
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app's model thread: 1-2)")
    parser.add_argument("--tokens", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in build(Path(tmp)).items():
            measure(name, folder, args.tokens, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
