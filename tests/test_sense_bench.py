"""bench/sense.py's parts that its figures stand on: the sentence splitter, the re-casing for the
parser, the best-of adapter, and the link grammar judge itself (skipped where it is not installed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import sense  # noqa: E402
from sense import Recaser, ends_sentence, figures, judge, judge_python, split_sentences  # noqa: E402

JUDGE = judge_python()
needs_judge = pytest.mark.skipif(JUDGE is None, reason="link grammar for Python is not installed "
                                 "(Debian: apt-get install python3-link-grammar)")


def texts(pieces) -> list[tuple[str, bool]]:
    return [(p.text, p.terminated) for p in pieces]


def test_sentences_end_at_marks_with_their_closing_quotes():
    text = "“who are you?” said the caterpillar. she went on,\nslowly:  “no!” (so it was.) and then"
    assert texts(split_sentences(text)) == [("“who are you?”", True), ("said the caterpillar.", True),
                                            ("she went on, slowly: “no!”", True), ("(so it was.)", True),
                                            ("and then", False)]


def test_titles_do_not_end_a_sentence_and_a_blank_line_ends_a_piece():
    text = "mr. dormouse and mrs. hare met st. george.\nchapter ii\n\nthe pool of tears. dr. who?"
    assert texts(split_sentences(text)) == [("mr. dormouse and mrs. hare met st. george.", True),
                                            ("chapter ii", False), ("the pool of tears.", True), ("dr. who?", True)]


def test_offsets_point_into_the_text():
    text = "a cat sat.  the end!”\n"
    assert [text[p.start:p.end].strip() for p in split_sentences(text)] == ["a cat sat.", "the end!”"]


def test_a_continuation_ends_at_a_sentence_end_with_closing_quotes_and_white_space_after():
    assert ends_sentence("so it was.”\n") and ends_sentence("who?") and ends_sentence("(so.) ")
    assert not ends_sentence("so it was") and not ends_sentence("so it was,”") and not ends_sentence("")


def test_recasing_gives_the_books_capitals_and_drops_quotation_marks():
    recase = Recaser("Alice said to the Queen, “I’m not.” The cat. The King’s cat saw Alice.")
    assert recase("“i’m not,” said alice to the queen’s cat.") == "I'm not, said Alice to the Queen's cat."
    assert recase("_very_ well, the cat said.") == "Very well, the cat said."


def test_the_bench_writes_at_each_k_and_names_the_products_default():
    from bot.settings import Settings

    assert sense.default_best_of() == Settings().best_of
    writer = sense.make_generator("alice", 3)
    with writer.generator:
        assert writer.options == {"best_of": 3}
        text = sense.write(writer, "the queen said", 120, rng_seed=1)
    assert sense.ends_sentence(text) and len(text) <= 150


@needs_judge
def test_the_judge_links_whole_sentences_and_not_word_salad():
    full, timeouts = judge(JUDGE, ["Alice said nothing.", "What do you know about this business?",
                                   "Cat the of sat mat the on.", "the of and a to."])
    assert full == [True, True, False, False] and timeouts == 0


@needs_judge
def test_figures_count_the_sentences_ended_after_the_seed():
    recase = Recaser("Alice")
    got = figures([" ran away. the of and a to the. then alice said nothing", " ran."], ["the cat", "the dog"],
                  recase, JUDGE, endings=True)
    assert got.judged == 2 and got.full_parse == 0.5  # "the cat ran away." (begun in the seed) and the salad
    assert got.endings == 0.5 and got.sentence_words == pytest.approx((4 + 6 + 3) / 3)  # "the dog ran." too short


def test_the_voice_judge_places_speech_by_its_characters_words():
    from voice import Voices

    book = ("“Twinkle, twinkle, little bat! Have some more tea and butter,” said the Hatter. "
            "The Queen said, “Off with her head! Off with his head, executioner!” ") * 3
    voices = Voices(book, ["the Hatter", "the Queen"])
    assert [len(voices.speeches[name]) for name in ("the Hatter", "the Queen")] == [3, 3]
    share, placed = voices.in_voice([("the Hatter", "Some more tea, little bat?"), ("the Queen", "Off with his head!"),
                                     ("the Queen", "More tea and butter for the bat"), ("the Dragon", "Who are you?"),
                                     ("the Hatter", "Tea!")])  # nobody's and too short: not placed
    assert (share, placed) == (2 / 3, 3)
    assert voices.book_in_voice() == (1.0, 6)  # each left out in turn, its twins still place it
