"""The source documents' worked examples as tiny models in the app's own format.

Each lesson is a one-layer, one-head transformer whose embedding table holds the document's
input vectors and whose W_Q, W_K, W_V hold its matrices, with a word-level tokenizer (one
token per word, no BOS), no positions (a zero table), no LayerNorm and no MLP: tracing the
document's sentence makes the app's views show the document's printed numbers. The numbers
come from :mod:`model.teaching.lessons`; this module only packs them into weights.

``python -m model.teaching.lesson_models`` (re)writes ``assets/lessons/<name>/``; a test checks that
the shipped folders match what this module builds.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from model.core.config import ModelConfig
from model.core.paths import LESSONS_DIR
from model.core.transformer import Transformer
from model.core.weights import TOKENIZER_FILE, save_model
from model.teaching.lessons import three_token_qkv_example, your_journey_example

UNK = "[UNK]"
LESSON_PREFIX = "lesson:"


@dataclass(frozen=True)
class Lesson:
    """One lesson model: its folder ``name``, the ``text`` to trace, and where it comes from."""

    name: str
    title: str
    text: str
    source: str


LESSONS = (
    Lesson("seed-003", "Your journey starts with one step (003, ch. 3.3)",
           "Your journey starts with one step", "003_d7d4370ea74ca8e0.txt"),
    Lesson("seed-003-causal", "Your journey, causal mask (003, ch. 3.5)",
           "Your journey starts with one step", "003_d7d4370ea74ca8e0.txt"),
    Lesson("seed-002", "x1 x2 x3: Q, K, V by hand (002)", "x1 x2 x3", "002_08f3fb67761a549c.txt"),
)


def lesson(name: str) -> Lesson:
    for entry in LESSONS:
        if entry.name == name:
            return entry
    raise KeyError(f"no lesson named {name!r} (lessons: {', '.join(e.name for e in LESSONS)})")


def word_tokenizer(words: tuple[str, ...]) -> Tokenizer:
    """One token per whitespace-separated word, ids in the order given, then [UNK]."""
    vocab = {w: i for i, w in enumerate(words)}
    vocab[UNK] = len(words)
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def _pack(
    name: str, title: str, inputs: np.ndarray, w_q: np.ndarray, w_k: np.ndarray, w_v: np.ndarray,
    causal: bool,
) -> Transformer:
    """A 1-layer, 1-head model with these rows as embeddings (plus a zero [UNK] row) and
    these (d × d) maps; W_O is the identity, so ΔE is Σ w_j v_j itself."""
    n, d = inputs.shape
    cfg = ModelConfig(
        vocab_size=n + 1, n_ctx=16, d_model=d, n_layers=1, n_heads=1, causal=causal,
        positional="learned", attn_bias=False, mlp_bias=False, tie_embeddings=True,
        scale_scores=False, layer_norm=False, mlp=False, name=f"lesson: {title}",
    )
    model = Transformer(cfg)
    with torch.no_grad():
        model.tok_embed.weight.copy_(torch.from_numpy(np.vstack([inputs, np.zeros((1, d))])))
        model.pos_embed.weight.zero_()
        # nn.Linear computes x @ weight.T: the stacked weight is [W_Qᵀ; W_Kᵀ; W_Vᵀ].
        model.blocks[0].attn.qkv.weight.copy_(torch.from_numpy(np.vstack([w_q.T, w_k.T, w_v.T])))
        model.blocks[0].attn.out.weight.copy_(torch.eye(d))
    return model.eval()


def build(name: str) -> tuple[Transformer, Tokenizer]:
    """The model and tokenizer of lesson ``name``."""
    entry = lesson(name)
    if name.startswith("seed-003"):
        ex = your_journey_example()
        eye = np.eye(3, dtype=np.float32)  # "without trainable weights": q = k = v = x
        model = _pack(name, entry.title, ex.inputs, eye, eye, eye, causal=name.endswith("causal"))
        return model, word_tokenizer(ex.tokens)
    ex = three_token_qkv_example()
    # 002's matrices are 4 × 3 but a head here is d_model / n_heads = 4 wide: a zero fourth
    # column leaves every score, weight and output unchanged (q·k gains 0 · 0).
    pad = np.zeros((4, 1), dtype=np.float32)
    w_q, w_k, w_v = (np.hstack([w, pad]) for w in (ex.w_query, ex.w_key, ex.w_value))
    model = _pack(name, entry.title, ex.x, w_q, w_k, w_v, causal=False)
    return model, word_tokenizer(("x1", "x2", "x3"))


def write(name: str, root: Path = LESSONS_DIR) -> Path:
    model, tok = build(name)
    folder = save_model(model, root / name, metadata={"source": lesson(name).source})
    tok.save(str(folder / TOKENIZER_FILE))
    for path in folder.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; the files ship with the app
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=LESSONS_DIR, help="folder to write the lessons into")
    args = parser.parse_args(argv)
    for entry in LESSONS:
        print(write(entry.name, args.out))


if __name__ == "__main__":
    main()
