"""Vocabulary: normalisation shared by training and generation, the unknown-character policy."""

from __future__ import annotations

import pytest

from engine.vocab import UNKNOWN_CHAR, Vocab, VocabError, normalize_text


def test_normalize_line_endings_control_characters_and_case():
    assert normalize_text("A\r\nB\rC\x1a\x00D\u0085E\ufeff") == "a\nb\ncde"
    assert normalize_text("Tab\there", lowercase=False) == "Tab\there"


def test_rare_characters_fold_into_the_unknown_symbol():
    vocab = Vocab.build("aaab ccc ù", min_count=2)
    assert vocab.chars[0] == UNKNOWN_CHAR
    assert "ù" not in vocab.chars and "b" not in vocab.chars and "a" in vocab.chars
    assert vocab.encode("ù") == [vocab.unknown_id]


def test_unknown_characters_map_to_look_alikes_or_the_unknown_symbol():
    vocab = Vocab.build("she said \u2018don\u2019t\u2019 \u201cno\u201d \u2014 e", min_count=1)
    ids = vocab.encode("don't \"x\" é -")
    text = vocab.decode(ids)
    assert text == f"don\u2019t \u201c{UNKNOWN_CHAR}\u201c e \u2014"


def test_json_round_trip_and_validation():
    vocab = Vocab.build("hello world", lowercase=False)
    again = Vocab.from_json(vocab.to_json())
    assert again.chars == vocab.chars and again.lowercase is False
    with pytest.raises(VocabError, match="unknown symbol"):
        Vocab(["a", "b"])
    with pytest.raises(VocabError, match="unique"):
        Vocab([UNKNOWN_CHAR, "a", "a"])
    with pytest.raises(VocabError, match="format_version"):
        Vocab.from_json({**vocab.to_json(), "format_version": 99})
