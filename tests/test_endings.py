"""Natural endings: a continuation ends at a sentence end after its target length, or cut back to a
word end before it; streamed text is never taken back; an exact cut stays available."""

from __future__ import annotations

import re

import pytest
import torch

from engine import Generator
from engine.endings import OVERSHOOT, Ending, longest, target_within
from engine.modelfolder import BUNDLED_MODEL, load_model_folder


def feed(text: str, length: int, exact: bool = False) -> tuple[list[str], str, int]:
    """Feed `text` to an Ending: the pieces sent, the kept text, how many characters it took."""
    ending, sent = Ending(length, exact), []
    for n, char in enumerate(text, 1):
        piece, done = ending.add(char)
        if piece:
            sent.append(piece)
        if done:
            assert "".join(sent) == text[:ending.kept]  # everything kept was sent, nothing else
            return sent, text[:ending.kept], n
    raise AssertionError(f"no ending in {text!r}")


@pytest.mark.parametrize("text, length, kept", [
    ("she said hello. and then more", 13, "she said hello."),
    ("“off with her head!” said the queen", 18, "“off with her head!”"),
    ("(quite so.) and", 9, "(quite so.)"),
    ("'no, no!' said", 8, "'no, no!'"),
    ("who are you? asked", 12, "who are you?"),
    ("a long line\n\nnext one", 10, "a long line"),
    ("she said hello. and then more", 10, "she said"),  # the sentence ends past 10 + 3: cut back
    ("aaa bbb ccc ddd eee fff", 10, "aaa bbb"),  # no sentence end by 10 + 3: back to a word end
    ("abcdefghijklmnop", 5, "abcde"),  # no word end at all: the exact cut
    ("mr. smith went on and on", 2, "mr."),  # any mark counts; the rule is simple, not clever
])
def test_natural_ending_rule(text: str, length: int, kept: str):
    assert feed(text, length)[1] == kept


def test_a_sentence_end_before_the_target_does_not_end_it():
    assert feed("one. two three four. five", 16)[1] == "one. two three four."


def test_the_overshoot_is_bounded():
    text = "word " * 100
    _, kept, taken = feed(text, 40)
    assert taken == longest(40, exact=False) + 1 == 40 + 10 + 1
    assert kept == text[:39]  # "word word ... word" up to the last word end at or before 40


def test_a_partial_word_waits_and_text_past_the_target_waits_for_a_sentence_end():
    ending = Ending(12, exact=False)
    sent = "".join(ending.add(c)[0] for c in "the queen sa")
    assert sent == "the queen"  # "sa" may yet be cut
    assert [ending.add(c) for c in "id."] == [("", False)] * 3  # past the target: a sentence end releases it
    assert ending.add(" ") == (" said.", True)


def test_exact_sends_every_character_at_once_and_stops_at_the_length():
    sent, kept, taken = feed("abc def. ghi", 5, exact=True)
    assert sent == list("abc d") and kept == "abc d" and taken == 5


def test_target_within_a_room_never_overshoots_it():
    for room in (1, 7, 100, 1999):
        target = target_within(room, exact=False)
        assert longest(target, False) <= room < longest(target + 1, False)
    assert target_within(1999, exact=True) == 1999


@pytest.fixture(scope="module")
def gen():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with Generator(load_model_folder(BUNDLED_MODEL)) as generator:
        yield generator
    torch.set_num_threads(threads)


SENTENCE_END = re.compile(r"[.!?][”’\"')]*\s")


@pytest.mark.parametrize("seed", ["alice was", "“who are you?” said the caterpillar", "the queen"])
def test_natural_endings_on_real_model_output(gen: Generator, seed: str):
    """Same draws as an exact run, so the natural text is a prefix of it, cut where the rule says."""
    length = 120
    limit = length + int(length * OVERSHOOT)
    for rng_seed in range(6):
        natural = gen.generate(seed, length, rng_seed=rng_seed, exact=False)
        drawn = gen.generate(seed, limit + 1, rng_seed=rng_seed, exact=True)
        assert drawn.startswith(natural)
        ends = [m.end() - 1 for m in SENTENCE_END.finditer(drawn) if length <= m.end() - 1 <= limit]
        blank = drawn.find("\n\n", length)
        if blank != -1 and blank < limit and len(drawn[:blank].rstrip()) >= length:
            ends.append(len(drawn[:blank].rstrip()))
        if ends:
            assert natural == drawn[:min(ends)], (natural, drawn)
        else:
            words = [m.start() for m in re.finditer(r"(?<=\S)\s", drawn) if m.start() <= length]
            assert natural == drawn[:words[-1] if words else length], (natural, drawn)
            assert len(natural) <= length
        assert len(natural) <= limit


def test_streamed_chunks_add_up_to_the_natural_text(gen: Generator):
    chunks = list(gen.stream("the cat", 80, rng_seed=3, exact=False))
    assert "".join(chunks) == gen.generate("the cat", 80, rng_seed=3, exact=False)
    assert all(chunks)
