"""Any causal language-model folder that transformers loads, opened generically through nnsight.

The app implements six families itself (GPT-2, BERT, the Llama layout, Gemma), each rebuilt as
:class:`model.core.transformer.Transformer` so every view can read every weight. A Phi-3, OLMo,
GPT-NeoX or StableLM folder is instead run by transformers' own modules (eager attention),
wrapped by nnsight (:class:`nnsight.NNsight`), and the :class:`~model.core.trace.Trace` is filled
from what those modules compute:

* the pattern: each attention module's own weights (what ``output_attentions`` returns);
* q, k, v and the scores: the arguments of the attention call inside the module (after RoPE;
  k and v repeated per query head), scores = q·kᵀ·scale as eager attention computes them;
* z, each head's weighted values: the input of the output projection (``o_proj``/``dense``),
  and ``head_out`` = z_h W_O,h; the residual stream: each decoder layer's input and output;
* the final norm and the logits: the model's own modules, found by name per architecture.

Knock-out and A/B patching are nnsight interventions that replace that input of the output
projection per head (:class:`model.core.interventions.Interventions`, the edits the native
model applies at the same point), so the app's analyses (the lens, knock-out, patching, the
sweep, sampling, head roles) run unchanged on :class:`GenericModule`. What needs each head's
and block's weights in the app's own layout (the step-through, direct logit attribution, the
block's steps, the contribution graph, saliency) is refused with a sentence saying why
(:class:`GenericUnavailable`). Loading: :mod:`model.formats.generic_load`.

``nnsight`` is an optional extra (``pip install -e '.[nnsight]'``); nothing is downloaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.core.anatomy import ModelStructure
from model.core.errors import ModelFileError
from model.core.info import ModelInfo
from model.core.interventions import NO_INTERVENTIONS, Interventions
from model.core.tokenizer import TextTokenizer
from model.core.trace import LogitPositions, Trace, input_fields
from model.core.trace import resolve_logit_positions as _resolve_positions
from model.tracer.runner import TracingModel

#: What the status line says after the model's name.
GENERIC_STATUS = "opened through transformers (generic)"
GENERIC_NOTE = (
    "{name} is opened generically: transformers runs its own modules (eager attention) and nnsight reads "
    "their inputs and outputs. Patterns, residual stream, logits, the logit lens, head roles, knock-out, "
    "patching and sampling come from those; the step-through, direct logit attribution and the block's steps need each "
    "head's weight matrices in the app's own layout, which a generic model does not have."
)
INSTALL = "pip install 'nnsight==0.8.1' (or pip install -e '.[nnsight]')"

# Names, per architecture, of the modules read by name: the output projection of an attention
# module (Llama-like o_proj; GPT-NeoX, Phi, Falcon dense; OPT out_proj; GPT-2-like c_proj) and
# the final norm of the base model.
O_PROJ_NAMES = ("o_proj", "dense", "out_proj", "c_proj", "wo", "o")
NORM_NAMES = ("norm", "final_layer_norm", "final_layernorm", "ln_f", "norm_f", "final_norm")


class GenericUnavailable(AttributeError, ValueError):
    """An analysis asked a generically opened model for what only the app's own layout has."""


def unavailable(name: str, what: str) -> GenericUnavailable:
    """The refusal of what a generic model lacks (``what``: the attribute an analysis asked for)."""
    exc = GenericUnavailable(
        f"{name} is opened generically through transformers (nnsight), which runs the model's own modules as "
        "they are: the weights of each head and block are not read into the app's own layout, and this needs "
        "them. Patterns, head roles, the logit lens, knock-out, patching and sampling work; the step-through, "
        "direct logit attribution, the block's steps, the contribution graph and saliency do not.")
    exc.wanted = what
    return exc


def nnsight_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("nnsight") is not None


@dataclass(frozen=True)
class GenericConfig:
    """What the app's analyses read off ``module.cfg``, from a transformers config."""

    name: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    vocab_size: int
    n_ctx: int
    bos_token_id: int | None = None
    sliding_window: int | None = None
    local_layers: tuple[int, ...] | None = None
    positional: str = "rope"
    causal: bool = True
    has_lm_head: bool = True
    output_token_ids: None = None
    tie_embeddings: bool = False

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads

    @property
    def n_outputs(self) -> int:
        return self.vocab_size

    def __getattr__(self, key: str):
        if key.startswith("__"):
            raise AttributeError(key)
        raise unavailable(self.__dict__.get("name", "this model"), key)

    def layer_window(self, layer: int) -> int | None:
        if self.sliding_window is None or (self.local_layers is not None and layer not in self.local_layers):
            return None
        return self.sliding_window


def generic_config(config, name: str, bos: int | None) -> GenericConfig:
    """:class:`GenericConfig` of a transformers ``PretrainedConfig``."""
    n_heads = int(config.num_attention_heads)
    d_model = int(config.hidden_size)
    d_head = int(getattr(config, "head_dim", None) or d_model // n_heads)
    window = getattr(config, "sliding_window", None)
    if getattr(config, "use_sliding_window", True) is False:
        window = None
    types = getattr(config, "layer_types", None)
    local = tuple(i for i, t in enumerate(types) if t == "sliding_attention") if types and window else None
    rope = getattr(config, "rope_parameters", None) is not None or getattr(config, "rope_theta", None) is not None
    return GenericConfig(
        name=name, n_layers=int(config.num_hidden_layers), n_heads=n_heads,
        n_kv_heads=int(getattr(config, "num_key_value_heads", None) or n_heads), d_model=d_model, d_head=d_head,
        vocab_size=int(config.vocab_size), n_ctx=int(getattr(config, "max_position_embeddings", None) or 2048),
        bos_token_id=bos, sliding_window=int(window) if window else None, local_layers=local,
        positional="rope" if rope else "learned", tie_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
    )


@dataclass(frozen=True)
class Layout:
    """Where an architecture keeps what the trace reads, as dotted module paths."""

    layers: str  # the ModuleList of decoder layers, "model.layers"
    attn: str  # a layer's attention module, "self_attn"
    o_proj: str  # the attention's output projection, "o_proj"
    norm: str  # the final norm, "model.norm"
    embed: str  # the token embedding, "model.embed_tokens"
    lm_head: str  # the unembedding, "lm_head"


def find_layout(hf: torch.nn.Module, cfg: GenericConfig, path: Path) -> Layout:
    """The :class:`Layout` of a loaded transformers model, found by name and shape; a
    :class:`ModelFileError` saying what is missing when the architecture does not have it."""
    names = {id(m): n for n, m in hf.named_modules()}
    lists = [n for n, m in hf.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m) == cfg.n_layers]
    if not lists:
        raise ModelFileError(path, f"no list of {cfg.n_layers} decoder layers found in {type(hf).__name__}")
    layers = lists[0]
    first = hf.get_submodule(f"{layers}.0")
    attns = [n for n, m in first.named_children() if "attention" in type(m).__name__.lower()]
    if not attns:
        raise ModelFileError(path, f"{type(first).__name__} has no attention module to read")
    attn_module = first.get_submodule(attns[0])

    def fits(m) -> bool:
        return isinstance(m, torch.nn.Linear) and m.in_features == cfg.n_heads * cfg.d_head and m.out_features == cfg.d_model

    named = [n for n in O_PROJ_NAMES if hasattr(attn_module, n) and fits(getattr(attn_module, n))]
    shaped = [n for n, m in attn_module.named_children() if fits(m)]
    if not named and not shaped:
        raise ModelFileError(path, f"{type(attn_module).__name__} has no output projection (heads × d_head → d_model) to read")
    base = layers.rsplit(".", 1)[0] if "." in layers else ""
    norms = [f"{base}.{n}" if base else n for n in NORM_NAMES]
    norm = next((n for n in norms if _has(hf, n)), None)
    if norm is None:
        raise ModelFileError(path, f"no final norm found by name ({', '.join(NORM_NAMES)}) in {type(hf).__name__}")
    embed, head = hf.get_input_embeddings(), hf.get_output_embeddings()
    if head is None or not isinstance(head, torch.nn.Linear):
        raise ModelFileError(path, "the model has no linear language-model head (lm_head): it predicts no tokens")
    return Layout(layers, attns[0], (named or shaped[-1:])[0], norm, names[id(embed)], names[id(head)])


def _has(module: torch.nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
        return True
    except AttributeError:
        return False


def _envoy(root, path: str):
    """The nnsight envoy of the module at dotted ``path`` (digits index a ModuleList)."""
    for part in path.split("."):
        root = root[int(part)] if part.isdigit() else getattr(root, part)
    return root


def _first(value):
    return value[0] if isinstance(value, tuple) else value


class GenericModule:
    """A transformers causal LM behind nnsight, called as the app's analyses call a
    :class:`model.core.transformer.Transformer`: ``module(idx, logit_positions=…,
    interventions=…)`` → logits (B, P, V), :meth:`resume` from the residual stream entering a
    layer, ``ln_f``/``unembed`` for the lens, and standing ``interventions``
    (:func:`model.core.interventions.installed`). Anything else is refused with a sentence."""

    def __init__(self, wrapped, hf: torch.nn.Module, cfg: GenericConfig, layout: Layout) -> None:
        self.wrapped, self.hf, self.cfg, self.layout = wrapped, hf, cfg, layout
        self.interventions = NO_INTERVENTIONS
        self.ln_f = hf.get_submodule(layout.norm)
        self.unembed = hf.get_submodule(layout.lm_head)
        self.tok_embed = hf.get_submodule(layout.embed)
        self.output_token_ids = None

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise unavailable(self.cfg.name, name)

    # --------------------------------------------------------------- what the analyses call
    @property
    def blocks(self) -> _Blocks:
        return _Blocks(self.hf.get_submodule(self.layout.layers), self.cfg.name)

    def hidden(self, idx: torch.Tensor, cache: dict) -> None:
        """Fill ``cache`` with every layer's pattern (B, H, T, T) under ``blocks.{i}.attn.pattern``,
        as :meth:`model.core.transformer.Transformer.hidden` names it (for the head roles)."""
        saved: dict = {}
        self.run(idx, torch.tensor([idx.shape[1] - 1]), None, saved)
        for i in range(self.cfg.n_layers):
            cache[f"blocks.{i}.attn.pattern"] = saved[f"{i}.pattern"].float()

    def parameters(self):
        return self.hf.parameters()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in {id(p): p for p in self.hf.parameters()}.values())

    def unembed_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.unembed(h.to(self.unembed.weight.dtype))

    def full_vocab_logits(self, logits: torch.Tensor) -> torch.Tensor:
        return logits

    def eval(self) -> GenericModule:
        self.hf.eval()
        return self

    def to(self, device) -> GenericModule:
        self.hf.to(device)
        return self

    def __call__(self, idx: torch.Tensor, logit_positions: torch.Tensor | None = None,
                 interventions: Interventions | None = None, cache: dict | None = None) -> torch.Tensor:
        """Logits (B, P, V) at ``logit_positions`` (default: every position) of token ids ``idx``
        (B, T), under the standing interventions and then ``interventions``. ``cache``: a dict
        that receives what a trace reads (:meth:`run`)."""
        return self.run(idx, logit_positions, interventions, cache)

    def resume(self, x: torch.Tensor, start: int, positions: torch.Tensor,
               interventions: Interventions | None = None) -> torch.Tensor:
        """Logits (B, P, V) from the residual stream ``x`` (B, T, d) entering layer ``start``.
        The layers before it run on placeholder tokens and their output is replaced by ``x``
        (transformers' layers cannot be entered in the middle, so this saves nothing, but the
        answer is the same)."""
        idx = torch.zeros(x.shape[:2], dtype=torch.long)
        return self.run(idx, positions, interventions, None, start=start, x=x)

    # --------------------------------------------------------------- the one nnsight trace
    @torch.inference_mode()
    def run(self, idx: torch.Tensor, logit_positions: torch.Tensor | None = None,
            interventions: Interventions | None = None, cache: dict | None = None,
            start: int | None = None, x: torch.Tensor | None = None) -> torch.Tensor:
        """One nnsight trace of the model: every layer's z edited by the interventions (the
        input of the attention's output projection, per head), and with ``cache`` given, what
        the Trace needs saved into it: ``embed`` (B, T, d), per layer ``resid_pre``,
        ``resid_post``, ``qkv`` (the attention call's q, k, v and scale), ``z`` (B, T, H·dh),
        ``attn_out``, ``pattern``; ``final_norm``. (Local only: docs/generic-models.md says why
        this is not run remotely on NDIF.)"""
        edits = self.interventions + (interventions or NO_INTERVENTIONS)
        cfg, layout = self.cfg, self.layout
        H, dh = cfg.n_heads, cfg.d_head
        model = self.wrapped
        device = next(self.hf.parameters()).device
        idx = idx.to(device)
        saved: dict = {}
        from nnsight import save  # not the .save() nnsight mounts on every object: that is a setting

        with model.trace(idx, use_cache=False):
            if cache is not None:
                saved["embed"] = save(_envoy(model, layout.embed).output)
            layers = _envoy(model, layout.layers)
            for i in range(cfg.n_layers):
                layer = layers[i]
                if start is not None and i == start:
                    layer.input = x.to(device=device, dtype=next(self.hf.parameters()).dtype)
                if cache is not None:
                    saved[f"{i}.resid_pre"] = save(layer.input)
                attn = _envoy(layer, layout.attn)
                if cache is not None:
                    saved[f"{i}.qkv"] = save(_attention_call(attn).inputs)
                edit = edits.at(i)
                o_proj = _envoy(attn, layout.o_proj)
                if edit is not None:
                    z = o_proj.input  # (B, T, H·dh)
                    B, T = z.shape[:2]
                    heads = z.reshape(B, T, H, dh).transpose(1, 2)  # (B, H, T, dh)
                    o_proj.input = edit(heads).transpose(1, 2).reshape(B, T, H * dh)
                if cache is not None:
                    saved[f"{i}.z"] = save(o_proj.input)
                    out = attn.output
                    saved[f"{i}.attn_out"] = save(out[0])
                    saved[f"{i}.pattern"] = save(out[1])
                    saved[f"{i}.resid_post"] = save(layer.output)
            if cache is not None:
                saved["final_norm"] = save(_envoy(model, layout.norm).output)
            saved["logits"] = save(model.output.logits)
        logits = saved.pop("logits")
        if cache is not None:
            cache.update(saved)
        if logit_positions is not None:
            logits = logits[:, logit_positions.to(logits.device)]
        return logits


class _Blocks:
    """``module.blocks`` of a generic model: its size (the head roles' step budget), and a
    refusal for anything that would read a block's weights in the app's own layout."""

    def __init__(self, layers: torch.nn.ModuleList, name: str) -> None:
        self.layers, self.name = layers, name

    def parameters(self):
        return self.layers.parameters()

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index):
        raise unavailable(self.name, "blocks")

    def __iter__(self):
        raise unavailable(self.name, "blocks")


def _attention_call(attn):
    """The attention function call inside an attention module's forward, as nnsight's
    ``.source`` names it: the last operation named ``attention_interface_N`` (transformers 5
    calls every attention implementation through ``attention_interface(self, q, k, v, mask,
    scaling=…)``; the earlier one is the assignment that picks the implementation)."""
    source = attn.source
    calls = [n for n in source.names if n.startswith("attention_interface_")]
    if not calls:
        raise GenericUnavailable("this architecture's attention does not call transformers' attention interface")
    return getattr(source, calls[-1])


def _scores(attn_module: torch.nn.Module, qkv, n_heads: int) -> tuple[torch.Tensor, ...]:
    """(q, k, v, scores) of one layer, batch row 0, k and v repeated per query head:
    (H, T, dh) each and (H, T, T), from the attention call's arguments."""
    args, kwargs = qkv
    q, k, v = (t[0].float() for t in args[1:4])  # (H or H_kv, T, dh)
    scale = kwargs.get("scaling", getattr(attn_module, "scaling", None))
    if scale is None:
        raise GenericUnavailable("the attention call names no scale")
    group = n_heads // k.shape[0]
    k, v = k.repeat_interleave(group, dim=0), v.repeat_interleave(group, dim=0)
    return q, k, v, (q @ k.transpose(-1, -2)) * float(scale)


class GenericTracingModel(TracingModel):
    """:class:`~model.tracer.runner.TracingModel` of a :class:`GenericModule`: text in, Trace
    out. Every trace is a whole forward pass (no incremental reuse of the rows)."""

    incremental = False

    def __init__(self, module: GenericModule, tokenizer: TextTokenizer, name: str, max_tokens: int,
                 structure: ModelStructure | None = None) -> None:
        self.structure = structure
        self.weights_note = ""
        self.precision = "float32"
        self.device = next(module.hf.parameters()).device
        self.module = module
        self.tokenizer = tokenizer
        self.name = name
        self.max_tokens = min(max_tokens, module.cfg.n_ctx)

    def info(self, source: str = "") -> ModelInfo:
        cfg = self.cfg
        table = self.module.tok_embed.weight.detach().float().cpu().numpy().copy()
        return ModelInfo(
            name=self.name, n_layers=cfg.n_layers, n_heads=cfg.n_heads, d_model=cfg.d_model, n_ctx=self.max_tokens,
            causal=True, has_lm_head=True, vocabulary=tuple(self.tokenizer.vocabulary(cfg.vocab_size)),
            embedding_table=table, tokenizer_kind=self.tokenizer.kind, bos_token_id=cfg.bos_token_id,
            source=source, head_weights=None, structure=self.structure,
            n_kv_heads=cfg.n_kv_heads if cfg.n_kv_heads != cfg.n_heads else None, positional=cfg.positional,
            layer_windows=tuple(cfg.layer_window(i) for i in range(cfg.n_layers)) if cfg.sliding_window else (),
            weights_note=self.weights_note, n_params=self.module.num_parameters(),
            token_bytes=self.tokenizer.token_bytes(cfg.vocab_size), precision=self.precision,
            generic=GENERIC_NOTE.format(name=self.name),
        )

    @torch.inference_mode()
    def trace(self, text: str, request_id: int = 0, logit_positions: LogitPositions = "last",
              interventions: Interventions | None = None) -> Trace:
        encoding, n_input = self.encode(text)
        T = len(encoding)
        positions = _resolve_positions(logit_positions, T)
        idx = torch.tensor([encoding.ids], dtype=torch.long)
        cache: dict = {}
        start = time.perf_counter()
        logits = self.module(idx, torch.from_numpy(positions), interventions, cache)[0].float()
        probs = torch.softmax(logits, dim=-1)
        forward_ms = (time.perf_counter() - start) * 1000.0
        return self._generic_trace(request_id, text, encoding, n_input, cache, positions, logits, probs, forward_ms)

    def _generic_trace(self, request_id, text, encoding, n_input, cache, positions, logits, probs, forward_ms) -> Trace:
        cfg, L, H, dh = self.cfg, self.cfg.n_layers, self.cfg.n_heads, self.cfg.d_head
        hf = self.module.hf
        layer_list = hf.get_submodule(self.module.layout.layers)
        T = len(encoding)
        q, k, v, scores, head_out = [], [], [], [], []
        for i in range(L):
            attn = layer_list[i].get_submodule(self.module.layout.attn)
            qi, ki, vi, si = _scores(attn, cache[f"{i}.qkv"], H)
            q.append(qi), k.append(ki), v.append(vi), scores.append(si)
            z = cache[f"{i}.z"][0].float().reshape(T, H, dh).transpose(0, 1)  # (H, T, dh)
            w_o = attn.get_submodule(self.module.layout.o_proj).weight.float()  # (d, H·dh)
            head_out.append(torch.einsum("htk,dhk->htd", z, w_o.reshape(cfg.d_model, H, dh)))

        def rows(key: str) -> np.ndarray:
            return torch.stack([_first(cache[f"{i}.{key}"])[0].float() for i in range(L)]).cpu().numpy()

        def heads(tensors) -> np.ndarray:
            return torch.stack(tensors).cpu().numpy()

        resid_pre, resid_post, attn_out = rows("resid_pre"), rows("resid_post"), rows("attn_out")
        resid_mid = resid_pre + attn_out
        embed = cache["embed"][0].float().cpu().numpy()
        return Trace(
            **input_fields(request_id, self.name, text, encoding, n_input, cfg),
            embed_token=embed,
            embed_pos=resid_pre[0] - embed,  # what the model adds before layer 0 (nothing, with RoPE)
            resid_pre=resid_pre, q=heads(q), k=heads(k), v=heads(v), scores=heads(scores),
            pattern=rows("pattern"), head_out=heads(head_out), attn_out=attn_out, resid_mid=resid_mid,
            mlp_out=resid_post - resid_mid, resid_post=resid_post,
            final_norm=cache["final_norm"][0].float().cpu().numpy(),
            logit_positions=positions, logits=logits.cpu().numpy(), probs=probs.cpu().numpy(),
            forward_ms=forward_ms, attn_in=None, precision=self.precision,
        )
