"""The Chinese interface starts on a Chinese sentence where the model reads Chinese (issue #27)."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from explorer.window import CHINESE_SEED_SENTENCE, SEED_SENTENCE
from model.analysis.tokens import whole_character_share
from model.core.transformer import Transformer
from model.core.weights import save_model
from tests.model.conftest import SENTENCES, tiny_config


def test_whole_characters_are_counted_alone_or_after_a_word_start_mark():
    text = "我今天很高兴，因为天气很好"
    letters = [c for c in text if c.isalnum()]  # the comma is not counted
    assert len(letters) == 12
    assert whole_character_share(["▁我", "今", "天", "很", "高", "兴", "因", "为", "气", "好"], text) == 1.0
    assert whole_character_share(["<0xE6>", "<0x88>", "Ġ", "a"], text) == 0.0  # byte pieces only
    assert whole_character_share(["我天", "##今"], text) == 1 / 12  # a longer token is not the character
    assert whole_character_share([], "") == 0.0


def chinese_reading_model(folder):
    """A random tiny model whose word-piece vocabulary was trained on Chinese text too."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator([*SENTENCES, CHINESE_SEED_SENTENCE, "天气很好，我很高兴"],
                            trainers.WordPieceTrainer(vocab_size=240, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    torch.manual_seed(0)
    save_model(Transformer(tiny_config(vocab_size=tok.get_vocab_size(), bos_token_id=2, positional="sinusoidal",
                                       name="reads-chinese")), folder)
    tok.save(str(folder / "tokenizer.json"))
    return folder


def test_the_default_sentence_follows_the_interface_and_the_model(qtbot, settings, make_window, tmp_path):
    from explorer.window import MainWindow

    settings.setValue("language", "zh_CN")
    english_only = make_window(text=None, wait=False)  # the tiny model: 8 of 14 characters [UNK]
    qtbot.waitUntil(lambda: english_only.trace is not None, timeout=10000)
    assert english_only.text_box.text() == SEED_SENTENCE
    english_only.close()

    window = MainWindow(source=str(chinese_reading_model(tmp_path)), settings=settings)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.trace is not None and window.trace.text == CHINESE_SEED_SENTENCE, timeout=10000)
        assert "[UNK]" not in window.trace.token_strings
        # a typed text stays when another model loads
        window.text_box.setText("天气很好")
        qtbot.waitUntil(lambda: window.trace.text == "天气很好", timeout=10000)
        window.load_model(str(tmp_path))
        qtbot.waitUntil(lambda: window.worker.is_idle(), timeout=10000)
        assert window.text_box.text() == "天气很好"
    finally:
        window.worker.stop()


def test_a_sentence_given_with_text_stays_whatever_the_model(qtbot, settings, make_window):
    """--text 我今天很高兴，因为天气很好 on a model that cannot read it is the person's choice."""
    settings.setValue("language", "zh_CN")
    window = make_window(text=CHINESE_SEED_SENTENCE)
    assert window.text_box.text() == CHINESE_SEED_SENTENCE
