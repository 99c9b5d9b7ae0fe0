"""The bundled teaching model's forward pass in NumPy, for the app's first traces.

``import torch`` alone takes over a second on the app's 2-core machine (docs/benchmarks.md,
"Importing torch") and holds the GIL for much of it, so the first trace cannot wait for it (issue #19). :class:`NumpyTracingModel`
reads the same files as :func:`model.loading.load_tracing_model` (safetensors, read as
NumPy arrays: nothing is unpickled; config.json; tokenizer.json) and produces the very
same :class:`~model.core.trace.Trace` and :class:`~model.core.info.ModelInfo` as
:class:`~model.tracer.runner.TracingModel`, to float32 rounding (a test holds the two to 1e-5),
while torch imports on another thread. Everything else (knock-outs, the lens, sweeps,
badges, generation) waits for the torch model (:mod:`explorer.trace_worker`).

It covers what the teaching model is made of and nothing more: a causal, pre-LayerNorm
decoder with GELU (exact, erf) MLPs, sinusoidal or learned positions, a frozen embedding
table of another width projected into the residual stream, and a
:class:`~model.core.transformer.TiedAdaptiveSoftmax` (or linear) output over
``output_token_ids``. :func:`unsupported` says why another config is not covered.
Never imports torch (a test checks).
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np

from model.core.config import ModelConfig, load_config
from model.core.errors import EmptyInputError, ModelFileError
from model.core.info import ModelInfo, layer_windows, rope_bases
from model.core.paths import TOKENIZER_FILE, WEIGHTS_FILE
from model.core.tokenizer import Encoding, TextTokenizer
from model.core.trace import Trace, input_fields, resolve_logit_positions
from model.core.validation import (
    MAX_ABS_WEIGHT,
    TRACE_SHARE,
    available_memory,
    check_file_fits,
    check_folder,
    check_tokenizer,
    require_file,
    tokens_that_fit,
)

#: Up to this many logit positions, the output layer scores the whole embedding table
#: instead of gathering the output vocabulary's rows first (see ``_unembed``).
FEW_POSITIONS = 4


def unsupported(cfg: ModelConfig) -> str:
    """Why the NumPy forward pass cannot run ``cfg`` ('' when it can)."""
    checks = {
        "not causal": not cfg.causal,
        "not pre-norm": cfg.norm_placement != "pre",
        "not LayerNorm": cfg.norm != "layernorm" or not cfg.layer_norm,
        "not an exact-GELU MLP": not cfg.mlp or cfg.gated_mlp or cfg.activation != "gelu",
        "rotary positions": cfg.positional == "rope",
        "grouped-query attention": cfg.kv_heads != cfg.n_heads,
        "normalised q and k": cfg.qk_norm,
        "a sliding window": cfg.sliding_window is not None,
        "an embedding LayerNorm": cfg.embed_layer_norm,
        "unscaled scores": not cfg.scale_scores,
        "no LM head": not cfg.has_lm_head,
        "an untied adaptive softmax": cfg.adaptive_cutoffs is not None and not cfg.adaptive_tied,
        "tied embeddings": cfg.tie_embeddings,
    }
    return ", ".join(reason for reason, failed in checks.items() if failed)


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The tensors a model folder of ``cfg`` holds (as :func:`model.core.weights.save_model` writes
    them: nn.Linear's (out, in) weights), for the configs :func:`unsupported` accepts."""
    C, E, F = cfg.d_model, cfg.embed_width, cfg.mlp_width
    shapes: dict[str, tuple[int, ...]] = {"tok_embed.weight": (cfg.vocab_size, E)}
    if E != C:
        shapes["embed_proj.weight"] = (C, E)
    if cfg.positional == "learned":
        shapes["pos_embed.weight"] = (cfg.n_ctx, C)
    qkv_rows = 3 * cfg.n_heads * cfg.d_head
    out_bias = cfg.attn_bias if cfg.attn_out_bias is None else cfg.attn_out_bias
    for i in range(cfg.n_layers):
        p = f"blocks.{i}."
        shapes |= {p + "ln1.weight": (C,), p + "ln1.bias": (C,), p + "ln2.weight": (C,), p + "ln2.bias": (C,)}
        shapes[p + "attn.qkv.weight"] = (qkv_rows, C)
        if cfg.attn_bias:
            shapes[p + "attn.qkv.bias"] = (qkv_rows,)
        shapes[p + "attn.out.weight"] = (C, cfg.n_heads * cfg.d_head)
        if out_bias:
            shapes[p + "attn.out.bias"] = (C,)
        shapes[p + "mlp.fc.weight"] = (F, C)
        shapes[p + "mlp.proj.weight"] = (C, F)
        if cfg.mlp_bias:
            shapes[p + "mlp.fc.bias"] = (F,)
            shapes[p + "mlp.proj.bias"] = (C,)
    shapes |= {"ln_f.weight": (C,), "ln_f.bias": (C,)}
    V = cfg.n_outputs
    if cfg.adaptive_tied:
        n_clusters = len(cfg.adaptive_cutoffs) + 1
        for c in range(n_clusters):
            shapes[f"unembed.proj.{c}.weight"] = (E, C)
        shapes["unembed.cluster.weight"] = (n_clusters - 1, C)
        shapes["unembed.cluster.bias"] = (n_clusters - 1,)
    else:
        shapes["unembed.weight"] = (V, C)
    if cfg.unembed_bias:
        shapes["unembed.bias"] = (V,)
    return shapes


def read_weights(path: Path, cfg: ModelConfig) -> dict[str, np.ndarray]:
    """The weights file as float32 NumPy arrays, each checked as :func:`model.core.validation.check_tensor`
    checks a tensor (name, shape, finite, ``|w| ≤`` :data:`~model.core.validation.MAX_ABS_WEIGHT`)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = require_file(path, "weights file")
    check_file_fits(path)
    try:
        stored = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        raise ModelFileError(path, f"corrupt or unreadable safetensors file ({exc})") from exc
    expected = expected_shapes(cfg)
    if set(stored) != set(expected):
        raise ModelFileError(path, "does not hold the tensors config.json implies",
                             key=sorted(set(stored) ^ set(expected))[0])
    weights = {}
    for name, array in stored.items():
        if array.shape != expected[name] or array.dtype.kind != "f":
            raise ModelFileError(path, f"tensor {name} has shape {array.shape} and dtype {array.dtype}", key=name)
        array = array.astype(np.float32)
        if not _finite_and_bounded(array):
            raise ModelFileError(path, f"tensor {name} contains NaN, infinite or huge values", key=name)
        weights[name] = array
    return weights


def _finite_and_bounded(array: np.ndarray) -> bool:
    """Every value finite with ``|value| ≤`` MAX_ABS_WEIGHT (its largest and smallest: two
    passes without a temporary; NaN propagates)."""
    if not array.size:
        return True
    largest = max(float(array.max()), -float(array.min()))
    return math.isfinite(largest) and largest <= MAX_ABS_WEIGHT


def sinusoids(n_positions: int, d_model: int, base: float) -> np.ndarray:
    """:func:`model.core.transformer.sinusoidal_positions` (computed in float64, kept as float32)."""
    positions = np.arange(n_positions, dtype=np.float64)[:, None]  # (n, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # (d/2,)
    angles = positions / base ** (two_i / d_model)  # (n, d/2)
    table = np.zeros((n_positions, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table.astype(np.float32)


# ---------------------------------------------------------------------------- erf, GELU
# NumPy has no erf; torch's default GELU is the exact x·Φ(x). Cephes' rational
# approximations (ndtr.c), evaluated in float64: erf for |x| ≤ 1, erfc beyond.
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)


def _poly(x: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in float64 (within a few ulp of ``math.erf``)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    small = a <= 1.0
    z = x * x
    inner = x * _poly(z, _T) / _poly(z, _U)
    near = a < 8.0
    a_big = np.maximum(a, 1.0)
    tail_p = np.where(near, _poly(a_big, _P), _poly(a_big, _R))
    tail_q = np.where(near, _poly(a_big, _Q), _poly(a_big, _S))
    with np.errstate(under="ignore"):
        erfc = np.exp(-a_big * a_big) * tail_p / tail_q  # erfc(|x|) for |x| > 1
    outer = np.sign(x) * (1.0 - erfc)
    return np.where(small, inner, outer)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x·Φ(x) = x/2 · (1 + erf(x/√2)) (``torch.nn.functional.gelu``), as float32."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + erf(x64 * math.sqrt(0.5)))).astype(np.float32)


# ---------------------------------------------------------------------------- the model
def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)  # biased, as torch's LayerNorm
    return centred / np.sqrt(var + np.float32(eps)) * weight + bias


def log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


class NumpyTracingModel:
    """Text in, :class:`Trace` out, as :class:`model.tracer.runner.TracingModel` does for the same
    folder, in NumPy. Every trace is a full forward pass (no incremental rows, no interventions).
    Not thread-safe: the app gives it to its model thread until the torch model is ready."""

    #: The app's model thread asks this before anything but a trace or a batch: those need torch.
    needs_torch_for_analyses = True

    def __init__(self, cfg: ModelConfig, weights: dict[str, np.ndarray], tokenizer: TextTokenizer,
                 name: str | None = None, max_tokens: int | None = None) -> None:
        reason = unsupported(cfg)
        if reason:
            raise ValueError(f"the NumPy forward pass does not cover this model: {reason}")
        self.cfg = cfg
        self.weights = weights
        self.tokenizer = tokenizer
        self.name = name or cfg.name
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        self.max_tokens = min(max_tokens or cfg.n_ctx, cfg.n_ctx)
        self.weights_note = ""
        if cfg.positional == "sinusoidal":
            self.position_table = sinusoids(cfg.n_ctx, cfg.d_model, cfg.sinusoid_base)
        else:
            self.position_table = weights["pos_embed.weight"]
        ids = cfg.output_token_ids
        self.output_ids = np.asarray(ids if ids is not None else range(cfg.vocab_size), dtype=np.int64)
        self._output_table: np.ndarray | None = None

    @classmethod
    def from_folder(cls, folder: str | Path, name: str | None = None, max_tokens: int | None = None
                    ) -> NumpyTracingModel:
        """As :func:`model.loading.load_tracing_model` opens a folder of this app's format
        (same checks, same ``max_tokens`` by default); raises :class:`ModelFileError`."""
        folder = check_folder(folder)
        cfg = load_config(folder)
        reason = unsupported(cfg)
        if reason:
            raise ModelFileError(folder, f"the NumPy forward pass does not cover this model: {reason}")
        weights = read_weights(folder / WEIGHTS_FILE, cfg)
        tokenizer_path = folder / TOKENIZER_FILE
        tokenizer = TextTokenizer.from_file(tokenizer_path, bos_token_id=cfg.bos_token_id)
        check_tokenizer(tokenizer, cfg.vocab_size, tokenizer_path)
        if max_tokens is None:
            have = available_memory()
            max_tokens = tokens_that_fit(cfg, TRACE_SHARE * have) if have is not None else None
        return cls(cfg, weights, tokenizer, name, max_tokens)

    @property
    def has_lm_head(self) -> bool:
        return self.cfg.has_lm_head

    def num_parameters(self) -> int:
        return sum(array.size for array in self.weights.values())

    def info(self, source: str = "") -> ModelInfo:
        """:meth:`model.tracer.runner.TracingModel.info` for the same model, field by field."""
        from model.analysis.stepthrough import head_weights_of, tied_adaptive_unembedding
        from model.core.anatomy import structure_of

        cfg, w = self.cfg, self.weights
        layers = [(w[f"blocks.{i}.attn.qkv.weight"], w.get(f"blocks.{i}.attn.qkv.bias"),
                   w[f"blocks.{i}.attn.out.weight"], w.get(f"blocks.{i}.attn.out.bias")) for i in range(cfg.n_layers)]
        if cfg.adaptive_tied:
            n = cfg.adaptive_cutoffs[0]
            unembedding = tied_adaptive_unembedding(
                cfg, w["tok_embed.weight"][self.output_ids[:n]], w["unembed.proj.0.weight"])
        else:
            rows = w["unembed.weight"]
            unembedding = (rows, self.output_ids[: rows.shape[0]], "")
        ids = cfg.output_token_ids
        return ModelInfo(
            name=self.name,
            n_layers=cfg.n_layers,
            n_heads=cfg.n_heads,
            d_model=cfg.d_model,
            n_ctx=self.max_tokens,
            causal=cfg.causal,
            has_lm_head=self.has_lm_head,
            vocabulary=tuple(self.tokenizer.vocabulary(cfg.vocab_size)),
            embedding_table=w["tok_embed.weight"],  # read-only from now on; never written here
            tokenizer_kind=self.tokenizer.kind,
            bos_token_id=cfg.bos_token_id,
            output_token_ids=np.asarray(ids, dtype=np.int64) if ids is not None else None,
            source=source,
            head_weights=head_weights_of(cfg, layers, unembedding),
            structure=structure_of(cfg, [(name, a.shape) for name, a in w.items()], self.position_table.copy()),
            n_kv_heads=None,
            positional=cfg.positional,
            layer_windows=layer_windows(cfg),
            rope_bases=rope_bases(cfg),
            weights_note=self.weights_note,
            n_params=self.num_parameters(),
            token_bytes=self.tokenizer.token_bytes(cfg.vocab_size),
        )

    def encode(self, text: str) -> tuple[Encoding, int]:
        """:meth:`model.tracer.runner.TracingModel.encode`: the most recent tokens that fit, BOS kept."""
        encoding = self.tokenizer.encode(text)
        if len(encoding) == 0:
            raise EmptyInputError("The text has no tokens yet: type a word or two.")
        keep_first = self.cfg.bos_token_id is not None or (
            self.tokenizer.add_special_tokens and encoding.special[0]
        )
        return encoding.tail(self.max_tokens, keep_first=keep_first), len(encoding)

    @contextlib.contextmanager
    def separate_memory(self):
        """Nothing is remembered between traces here; for the engine's batches."""
        yield self

    def trace(self, text: str, request_id: int = 0, logit_positions="last") -> Trace:
        """:meth:`model.tracer.runner.TracingModel.trace`, as a full forward pass in NumPy."""
        encoding, n_input = self.encode(text)
        T = len(encoding)
        positions = resolve_logit_positions(logit_positions, T)
        start = time.perf_counter()
        record = self._forward(np.asarray(encoding.ids, dtype=np.int64), positions)
        forward_ms = (time.perf_counter() - start) * 1000.0
        return Trace(
            **input_fields(request_id, self.name, text, encoding, n_input, self.cfg),
            logit_positions=positions,
            forward_ms=forward_ms,
            **record,
        )

    def _forward(self, ids: np.ndarray, positions: np.ndarray) -> dict[str, np.ndarray]:
        cfg, w = self.cfg, self.weights
        T, C, H, dh, L = len(ids), cfg.d_model, cfg.n_heads, cfg.d_head, cfg.n_layers
        eps = cfg.layer_norm_eps
        rows = w["tok_embed.weight"][ids]  # (T, d_embed)
        token = rows @ w["embed_proj.weight"].T if "embed_proj.weight" in w else rows.copy()  # (T, C)
        pos = self.position_table[:T].copy()  # (T, C)
        x = token + pos
        names = ("resid_pre", "attn_in", "q", "k", "v", "scores", "pattern", "head_out", "attn_out",
                 "resid_mid", "mlp_out", "resid_post")
        shapes = {"q": (H, T, dh), "k": (H, T, dh), "v": (H, T, dh), "scores": (H, T, T), "pattern": (H, T, T),
                  "head_out": (H, T, C)}
        out = {name: np.empty((L, *shapes.get(name, (T, C))), dtype=np.float32) for name in names}
        hidden = np.triu(np.ones((T, T), dtype=bool), k=1)  # later keys
        divisor = np.float32(math.sqrt(dh))
        for i in range(L):
            p = f"blocks.{i}."
            out["resid_pre"][i] = x
            a = layer_norm(x, w[p + "ln1.weight"], w[p + "ln1.bias"], eps)
            out["attn_in"][i] = a
            qkv = a @ w[p + "attn.qkv.weight"].T  # (T, 3·H·dh)
            if p + "attn.qkv.bias" in w:
                qkv += w[p + "attn.qkv.bias"]
            q, k, v = (qkv[:, j * H * dh:(j + 1) * H * dh].reshape(T, H, dh).transpose(1, 0, 2)
                       for j in range(3))  # each (H, T, dh)
            scores = (q @ k.transpose(0, 2, 1)) / divisor  # (H, T, T)
            pattern = softmax(np.where(hidden, np.float32(-np.inf), scores))  # each query row sums to 1
            z = pattern @ v  # (H, T, dh)
            w_out = w[p + "attn.out.weight"]  # (C, H·dh)
            attn_out = z.transpose(1, 0, 2).reshape(T, H * dh) @ w_out.T  # (T, C)
            if p + "attn.out.bias" in w:
                attn_out += w[p + "attn.out.bias"]
            np.matmul(z, w_out.reshape(C, H, dh).transpose(1, 2, 0), out=out["head_out"][i])  # (H, T, C)
            out["q"][i], out["k"][i], out["v"][i] = q, k, v
            out["scores"][i], out["pattern"][i], out["attn_out"][i] = scores, pattern, attn_out
            mid = x + attn_out
            m = layer_norm(mid, w[p + "ln2.weight"], w[p + "ln2.bias"], eps)
            hidden_mlp = m @ w[p + "mlp.fc.weight"].T
            if p + "mlp.fc.bias" in w:
                hidden_mlp += w[p + "mlp.fc.bias"]
            mlp_out = gelu(hidden_mlp) @ w[p + "mlp.proj.weight"].T
            if p + "mlp.proj.bias" in w:
                mlp_out += w[p + "mlp.proj.bias"]
            x = mid + mlp_out
            out["resid_mid"][i], out["mlp_out"][i], out["resid_post"][i] = mid, mlp_out, x
        final = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
        logits = self._full_vocab(self._unembed(final[positions]))  # (P, V)
        return dict(out, embed_token=token, embed_pos=pos, final_norm=final, logits=logits, probs=softmax(logits))

    def _table(self) -> np.ndarray:
        """The embedding rows of the output vocabulary, in output order (n_outputs, d_embed)."""
        if self._output_table is None:
            self._output_table = self.weights["tok_embed.weight"][self.output_ids]
        return self._output_table

    def _unembed(self, h: np.ndarray) -> np.ndarray:
        """Log-probabilities (or logits) over the output vocabulary for hidden states (P, C)."""
        w = self.weights
        bias = w.get("unembed.bias")
        if not self.cfg.adaptive_tied:
            logits = h @ w["unembed.weight"].T
            return logits + bias if bias is not None else logits
        bounds = [0, *self.cfg.adaptive_cutoffs, self.cfg.n_outputs]
        # A few positions (the app asks for one or two): score every row of the embedding and
        # pick the output ids, rather than first gathering the output rows (35 MB, 70 ms).
        few = h.shape[0] <= FEW_POSITIONS
        table = self.weights["tok_embed.weight"] if few else self._table()

        def cluster_logits(c: int) -> np.ndarray:
            lo, hi = bounds[c], bounds[c + 1]
            # (h P_cᵀ) E_cᵀ: the same numbers as torch's h (E_c P_c)ᵀ up to float32 rounding
            projected = h @ w[f"unembed.proj.{c}.weight"].T  # (P, d_embed)
            if few:
                out = (projected @ table.T)[:, self.output_ids[lo:hi]]  # (P, hi − lo)
            else:
                out = projected @ table[lo:hi].T  # (P, hi − lo)
            return out + bias[lo:hi] if bias is not None else out

        cluster = h @ w["unembed.cluster.weight"].T + w["unembed.cluster.bias"]  # (P, clusters − 1)
        head = log_softmax(np.concatenate([cluster_logits(0), cluster], axis=-1))
        n_short = bounds[1]
        parts = [head[:, :n_short]]
        for c in range(1, len(bounds) - 1):
            parts.append(log_softmax(cluster_logits(c)) + head[:, n_short + c - 1: n_short + c])
        return np.concatenate(parts, axis=-1)

    def _full_vocab(self, logits: np.ndarray) -> np.ndarray:
        """Output-vocabulary logits on the full vocabulary; other ids get −∞."""
        if self.cfg.output_token_ids is None:
            return logits.astype(np.float32)
        full = np.full((logits.shape[0], self.cfg.vocab_size), -np.inf, dtype=np.float32)
        full[:, self.output_ids] = logits
        return full
