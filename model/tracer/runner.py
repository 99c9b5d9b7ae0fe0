"""A model with its tokenizer: text in, :class:`~model.core.trace.Trace` out."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import torch

from model.analysis.ablation import REFERENCE_TEXTS, reference_z_means
from model.analysis.stepthrough import try_head_weights
from model.core.anatomy import model_structure
from model.core.errors import EmptyInputError
from model.core.info import ModelInfo, layer_windows, rope_bases
from model.core.int8 import auto_precision, exact_float32, input_peaks, lowbit_steps, to_float16, to_int8
from model.core.interventions import NO_INTERVENTIONS, Interventions
from model.core.precision import AUTO_MIN_PARAMETERS, Precision, check_precision, to_bfloat16
from model.core.tokenizer import Encoding, TextTokenizer
from model.core.trace import LogitPositions, Trace, input_fields
from model.core.trace import resolve_logit_positions as _resolve_positions
from model.core.transformer import Transformer
from model.core.weights import TOKENIZER_FILE, load_model


class TracingModel:
    """Runs text through a :class:`Transformer` and records one :class:`Trace` per call.

    Not thread-safe: the app gives one instance to its worker thread.

    Parameters
    ----------
    device
        Where the forward pass runs (CPU by default); the Trace always holds CPU arrays.
    max_tokens
        The most tokens one trace keeps (the most recent ones), at most the model's context
        window. A trace holds every head's output, (L, H, T, d) floats, so large models get
        a cap below their context window (see :mod:`model.loading`).
    precision
        "float32" (default); "float16" or "int8": the large weight matrices multiplied from a
        16- or 8-bit copy, a half or a quarter of the bytes to read per token, the float32
        weights kept for exact numbers (:mod:`model.core.int8`, :meth:`exact`); "bfloat16"
        (:mod:`model.core.precision`); "auto": float16 for a model of at least 50 M parameters
        when its products are faster on this machine (measured here, once), else float32.
        The module is converted in place. Traces are float32 arrays either way and record the
        precision.
    """

    def __init__(
        self,
        module: Transformer,
        tokenizer: TextTokenizer,
        name: str | None = None,
        device: str | torch.device = "cpu",
        max_tokens: int | None = None,
        weights_note: str = "",
        precision: Precision = "float32",
    ) -> None:
        self.weights_note = weights_note
        check_precision(precision, allow_auto=True)
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        self.tokenizer = tokenizer
        #: milliseconds of one token's products per precision, when "auto" measured them
        self.precision_speeds: dict[str, float] = {}
        self.precision_asked = precision
        self.fidelity = None  # 8- or 16-bit weights: model/analysis/fidelity.py, by precision_job
        if precision == "auto":
            precision, self.precision_speeds = auto_precision(
                self.module, self.module.num_parameters(), AUTO_MIN_PARAMETERS)
        self.precision = precision
        if precision == "bfloat16":
            to_bfloat16(self.module)
        elif precision == "float16":
            to_float16(self.module)
        elif precision == "int8":  # SmoothQuant's channel peaks from the calibration sentences
            from model.analysis.fidelity import CALIBRATION_TEXTS

            ids = [tokenizer.encode(text).ids[-self.module.cfg.n_ctx:] for text in CALIBRATION_TEXTS]
            to_int8(self.module, input_peaks(self.module, ids), reduce_range=False)
        self.name = name or module.cfg.name
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        self.max_tokens = min(max_tokens or module.cfg.n_ctx, module.cfg.n_ctx)

    @classmethod
    def from_folder(cls, folder: str | Path, name: str | None = None, **kwargs) -> TracingModel:
        """Load ``config.json``, ``model.safetensors`` and ``tokenizer.json`` from ``folder``
        (our own format); ``kwargs`` go to the constructor (``device``, ``max_tokens``)."""
        folder = Path(folder)
        module = load_model(folder)
        tokenizer = TextTokenizer.from_file(folder / TOKENIZER_FILE, bos_token_id=module.cfg.bos_token_id)
        return cls(module, tokenizer, name or module.cfg.name, **kwargs)

    @property
    def cfg(self):
        return self.module.cfg

    def info(self, source: str = "") -> ModelInfo:
        """Facts panels need once per load: vocabulary, embedding table, shape."""
        cfg = self.cfg
        ids = cfg.output_token_ids
        table = self.module.tok_embed.weight.detach().float().cpu().numpy().copy()
        return ModelInfo(
            name=self.name,
            n_layers=cfg.n_layers,
            n_heads=cfg.n_heads,
            d_model=cfg.d_model,
            n_ctx=self.max_tokens,
            causal=cfg.causal,
            has_lm_head=self.has_lm_head,
            vocabulary=tuple(self.tokenizer.vocabulary(cfg.vocab_size)),
            embedding_table=table,
            tokenizer_kind=self.tokenizer.kind,
            bos_token_id=cfg.bos_token_id,
            output_token_ids=np.asarray(ids, dtype=np.int64) if ids is not None else None,
            source=source,
            head_weights=try_head_weights(self.module, table if cfg.tie_embeddings else None),
            structure=model_structure(self.module),
            n_kv_heads=cfg.n_kv_heads if cfg.kv_heads != cfg.n_heads else None,
            positional=cfg.positional,
            layer_windows=layer_windows(cfg),
            rope_bases=rope_bases(cfg),
            weights_note=self.weights_note,
            n_params=self.module.num_parameters(),
            token_bytes=self.tokenizer.token_bytes(cfg.vocab_size),
            precision=self.precision,
            precision_asked=self.precision_asked,
            precision_speeds=tuple(sorted(self.precision_speeds.items())),
            top1_agreement=None if self.fidelity is None else self.fidelity.top1_agreement,
            fidelity_summary="" if self.fidelity is None else self.fidelity.summary(),
        )

    @property
    def has_lm_head(self) -> bool:
        """False for encoders loaded without a pretraining head: their traces hold no logits."""
        return self.cfg.has_lm_head

    def encode(self, text: str) -> tuple[Encoding, int]:
        """Tokenize and keep the most recent tokens that fit ``max_tokens``.

        A BOS token, or a leading special token the tokenizer adds ([CLS]), is kept; so is
        a trailing one ([SEP]), since truncation keeps the end.
        Returns the encoding to run and the token count before truncation.
        """
        encoding = self.tokenizer.encode(text)
        if len(encoding) == 0:
            raise EmptyInputError("The text has no tokens yet: type a word or two.")
        keep_first = self.cfg.bos_token_id is not None or (
            self.tokenizer.add_special_tokens and encoding.special[0]
        )
        kept = encoding.tail(self.max_tokens, keep_first=keep_first)
        return kept, len(encoding)

    @torch.inference_mode()
    def trace(
        self,
        text: str,
        request_id: int = 0,
        logit_positions: LogitPositions = "last",
        interventions: Interventions | None = None,
    ) -> Trace:
        """Run ``text`` through the model and capture every named internal.

        ``logit_positions``: ``"last"`` (default), ``"all"`` or explicit positions (negative
        counts from the end; positions beyond the traced tokens are dropped). A model
        without an LM head computes none: its Trace has logits of shape (0, V).
        ``interventions``: edits of the heads' outputs (knock-out, patching;
        :mod:`model.core.interventions`), applied after the module's standing ones.
        """
        encoding, n_input = self.encode(text)
        T = len(encoding)
        if self.has_lm_head:
            positions = _resolve_positions(logit_positions, T)
        else:
            positions = np.zeros(0, dtype=np.int64)
        key = self._rows_key(interventions)
        if key is not None:  # reuse the last trace's rows: model/core/incremental.py
            return self._incremental_tracer(key).trace(
                self, request_id, text, encoding, n_input, positions, interventions)
        idx = torch.tensor([encoding.ids], dtype=torch.long, device=self.device)
        cfg = self.cfg
        # Every head's output, (L, 1, H, T, d), is written in place by the attention
        # modules: at GPT-2 sizes it is half the trace, and stacking it would copy it again.
        head_out = torch.empty((cfg.n_layers, 1, cfg.n_heads, T, cfg.d_model), device=self.device)
        cache: dict[str, torch.Tensor] = {f"blocks.{i}.attn.head_out": head_out[i] for i in range(cfg.n_layers)}
        start = time.perf_counter()
        logits = self.module(idx, cache=cache, logit_positions=torch.from_numpy(positions).to(self.device),
                             interventions=interventions)
        full_logits = self.module.full_vocab_logits(logits[0]).float()
        probs = torch.softmax(full_logits, dim=-1)
        forward_ms = (time.perf_counter() - start) * 1000.0
        return self._make_trace(
            request_id, text, encoding, n_input, cache, head_out, positions, full_logits, probs, forward_ms
        )

    def _make_trace(
        self, request_id, text, encoding, n_input, cache, head_out, positions, logits, probs, forward_ms
    ) -> Trace:
        L = self.cfg.n_layers

        def stack(suffix: str) -> np.ndarray:
            return torch.stack([cache[f"blocks.{i}.{suffix}"][0] for i in range(L)]).cpu().numpy()

        rotary = "blocks.0.attn.q_unrotated" in cache

        written_in_place = all(
            cache[f"blocks.{i}.attn.head_out"].data_ptr() == head_out[i].data_ptr() for i in range(L)
        )

        return Trace(
            **input_fields(request_id, self.name, text, encoding, n_input, self.cfg),
            embed_token=cache["embed.token"][0].cpu().numpy(),
            embed_pos=cache["embed.pos"][0].cpu().numpy(),
            resid_pre=stack("resid_pre"),
            q=stack("attn.q"),
            k=stack("attn.k"),
            v=stack("attn.v"),
            scores=stack("attn.scores"),
            pattern=stack("attn.pattern"),
            head_out=head_out[:, 0].cpu().numpy() if written_in_place else stack("attn.head_out"),
            attn_out=stack("attn.out"),
            resid_mid=stack("resid_mid"),
            mlp_out=stack("mlp.out"),
            resid_post=stack("resid_post"),
            final_norm=cache["final_norm"][0].cpu().numpy(),
            logit_positions=positions,
            logits=logits.cpu().numpy(),
            probs=probs.cpu().numpy(),
            forward_ms=forward_ms,
            attn_in=stack("attn.in"),
            q_unrotated=stack("attn.q_unrotated") if rotary else None,
            k_unrotated=stack("attn.k_unrotated") if rotary else None,
            precision=self.trace_precision,
        )

    # ------------------------------------------------------------------ incremental tracing
    # (model/core/incremental.py has the details; kept apart from the methods above)
    incremental = True  # False: every trace is a full forward pass

    #: Buffer sets of the knocked-out tracer. Its traces are read and dropped by the
    #: analysis that asked (model/work/probes.py), so typing writes one set in place; the second
    #: covers a caller that keeps one. (Not three as for the ordinary traces, whose Traces
    #: the screen holds: at GPT-2 sizes a set is a quarter-gigabyte.)
    KNOCKOUT_POOL_SIZE = 2

    def _rows_key(self, interventions: Interventions | None = None) -> tuple | None:
        """Which remembered rows a trace under ``interventions`` (and the module's standing
        ones) may reuse: None for a full pass.

        Causal models reuse the last trace's rows; encoders recompute everything (one
        changed token changes every row there). Under a knock-out (zeroed heads, or heads
        replaced by the model's fixed reference means) every row still depends only on the
        tokens up to it, but not as in an ordinary trace: the key is the knock-out
        (:attr:`model.core.interventions.Interventions.rows_key`: its layers, heads and mode),
        and such traces reuse only the rows of the last trace with the same key. Any other
        edit (patching; a function of one's own) means a full pass that leaves every
        remembered row alone.
        """
        if not (self.incremental and self.cfg.causal):
            return None
        return (self.module.interventions + (interventions or NO_INTERVENTIONS)).rows_key

    def _traces_incrementally(self, interventions: Interventions | None = None) -> bool:
        return self._rows_key(interventions) is not None

    def _incremental_tracer(self, key: tuple = ()):
        """The tracer of the ordinary traces (``key`` ``()``) or of the knock-out ``key``.
        One knock-out is remembered at a time (the app knocks out one set of heads, which the
        lens and the next-token tab share); another key starts its tracer afresh."""
        from model.core.incremental import IncrementalTracer

        def current(tracer) -> bool:
            return tracer is not None and tracer.capacity == self.max_tokens and tracer.module is self.module

        if key == ():
            tracer = getattr(self, "_tracer", None)
            if not current(tracer):
                tracer = self._tracer = IncrementalTracer(self.module, self.max_tokens)
            return tracer
        held = getattr(self, "_knockout_tracer", None)  # (key, tracer)
        if held is None or held[0] != key or not current(held[1]):
            held = self._knockout_tracer = (
                key, IncrementalTracer(self.module, self.max_tokens, pool_size=self.KNOCKOUT_POOL_SIZE))
        return held[1]

    def forget_last_trace(self) -> None:
        """Drop what incremental tracing remembers, with and without a knock-out, and the
        reference means of mean ablation (call after changing weights in place)."""
        self._tracer = self._knockout_tracer = None
        self._reference_means = None
        self._exact = None

    # ------------------------------------------------------------------ exact numbers
    @property
    def exact_differs(self) -> bool:
        """True when the live traces are not float32's own (8- or 16-bit weights)."""
        return self.precision in ("float16", "int8")

    @contextlib.contextmanager
    def exact(self):
        """Inside this block every product uses the float32 weights and every trace is a full
        pass that neither uses nor replaces the remembered rows (computed at the live
        precision): the numbers taught — step-through, DLA, exports — are float32's. A
        float32 model is exact already: nothing changes for it."""
        if not self.exact_differs:
            yield self
            return
        incremental, self.incremental = self.incremental, False
        self._exact_depth = getattr(self, "_exact_depth", 0) + 1
        try:
            with exact_float32(self.module):
                yield self
        finally:
            self.incremental = incremental
            self._exact_depth -= 1

    @property
    def trace_precision(self) -> str:
        """The precision the next trace is computed at: float32 inside :meth:`exact`."""
        return "float32" if getattr(self, "_exact_depth", 0) else self.precision

    def exact_trace(self, text: str, logit_positions: LogitPositions = "last") -> Trace:
        """The float32 trace of ``text`` (the live one when the model is float32); the last one
        is kept, so the step-through's stages and DLA share one pass."""
        key = (text, logit_positions if isinstance(logit_positions, str) else tuple(logit_positions))
        held = getattr(self, "_exact", None)
        if held is not None and held[0] == key and held[1] is self.module:
            return held[2]
        with self.exact():
            trace = self.trace(text, logit_positions=logit_positions)
        self._exact = (key, self.module, trace)
        return trace

    def precision_job(self, wanted: str):
        """Bring this float32 model to ``wanted`` ("auto", "float16" or "int8") in short steps
        a model thread interleaves with traces: yields ``(done, total, None)``, and at the end
        ``(total, total, self)`` once the new layers are in and their fidelity is measured on
        the held-out sentences (:mod:`model.analysis.fidelity`). Until the swap, traces are
        float32's; the remembered rows are dropped at the swap."""
        from model.analysis.fidelity import CALIBRATION_TEXTS, held_out_texts, measure_steps

        if self.precision != "float32":
            raise ValueError(f"the model already runs {self.precision} weights")
        check_precision(wanted, allow_auto=True)
        if wanted == "auto" and self.module.num_parameters() < AUTO_MIN_PARAMETERS:
            return  # float32 it stays, and nothing is reported
        self.precision_asked = wanted
        if wanted == "auto":
            wanted, self.precision_speeds = auto_precision(
                self.module, self.module.num_parameters(), AUTO_MIN_PARAMETERS)
            yield 0, 1, None
        if wanted not in ("float16", "int8"):
            yield 1, 1, self
            return
        cut = self.module.cfg.n_ctx
        peaks: dict = {}
        if wanted == "int8":  # SmoothQuant's channel peaks, one calibration sentence a step
            for text in CALIBRATION_TEXTS:
                for linear, peak in input_peaks(self.module, [self.tokenizer.encode(text).ids[-cut:]]).items():
                    peaks[linear] = torch.maximum(peaks[linear], peak) if linear in peaks else peak
                yield 0, 1, None
        texts = held_out_texts(self.tokenizer.vocabulary(self.module.cfg.vocab_size))
        for done, total in lowbit_steps(self.module, wanted, peaks):
            yield done, total + len(texts), None
        self.precision = wanted
        self.forget_last_trace()
        held_out = [self.tokenizer.encode(text).ids[-cut:] for text in texts]
        for i, fidelity in enumerate(measure_steps(self.module, held_out), 1):
            self.fidelity = fidelity
            yield total + i, total + len(held_out), None
        yield 1, 1, self

    # ------------------------------------------------------------------ mean ablation
    def reference_means(self) -> torch.Tensor:
        """Every head's mean output z over :data:`model.analysis.ablation.REFERENCE_TEXTS`, encoded
        as :meth:`encode` encodes any text (BOS or [CLS]/[SEP] included): (L, H, d_head),
        what a mean knock-out writes in place of a head's z (:func:`model.analysis.ablation.knocked_out`).

        Computed at the first call (one short clean pass per reference text, on the thread
        that calls: the app's model thread) and kept until :meth:`forget_last_trace`. Call
        it outside any knock-out: it needs the clean model."""
        held = getattr(self, "_reference_means", None)  # (module, means)
        if held is None or held[0] is not self.module:
            texts = (self.encode(text)[0].ids for text in REFERENCE_TEXTS)
            held = self._reference_means = (self.module, reference_z_means(self.module, texts))
        return held[1]

    @contextlib.contextmanager
    def separate_memory(self):
        """Traces inside this block neither use nor replace the remembered last traces: a
        batch of other texts must not evict the text being typed."""
        saved = getattr(self, "_tracer", None), getattr(self, "_knockout_tracer", None)
        self._tracer = self._knockout_tracer = None
        try:
            yield self
        finally:
            self._tracer, self._knockout_tracer = saved
