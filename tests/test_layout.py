"""The layout guard (engine/layout.py): what a row may not write next, so that no story gets runs of
spaces, piles of blank lines, ornament rows, chapter headings or a blank start."""

from __future__ import annotations

import random
import re
import time

import pytest
import torch

from engine.layout import (
    MAX_LEAD,
    MAX_SPACES,
    TAIL_CHARS,
    LayoutGuard,
    StoryLayout,
    banned_chars,
    is_blank,
    layout_rules,
    next_lead,
    story_start,
)
from engine.vocab import PARAGRAPH, Vocab

PLAIN = StoryLayout()  # a story with text, no ornaments, no headings
BLANK = StoryLayout.of("")
WHITESPACE = set(" \t\n\u00a0\u200a")


def test_blank_means_empty_or_white_space_only():
    assert is_blank("") and is_blank("   \n\n \t") and is_blank("\u00a0")
    assert not is_blank(" a ") and not is_blank("*") and not is_blank("“")


def test_a_blank_seed_starts_a_paragraph_and_any_other_seed_is_read_as_it_is():
    assert story_start("") == PARAGRAPH and story_start("  \n ") == PARAGRAPH
    assert story_start("the queen said") == "the queen said" and story_start("  so.\n") == "  so.\n"


def test_what_a_story_allows_is_read_from_its_seed():
    assert StoryLayout.of("") == StoryLayout(blank=True) and StoryLayout.of("  \n") == StoryLayout(blank=True)
    assert StoryLayout.of("the queen said") == PLAIN
    assert StoryLayout.of("the end.\n\n      *       *       *\n\nthen").ornaments
    assert StoryLayout.of("so.\n* * *\n").ornaments and StoryLayout.of("so.\n-----\n").ornaments
    assert not StoryLayout.of("she said * is a star.\n“--so it is.”").ornaments
    assert StoryLayout.of("CHAPTER I.\nDown the Rabbit-Hole\n\nAlice was").headings
    assert StoryLayout.of("the end.\n\n   chapter 12\n").headings
    assert not StoryLayout.of("she read the chapter in bed.\nchapter and verse").headings


def test_a_run_of_spaces_stops_at_the_books_longest():
    for run in range(MAX_SPACES):
        assert " " not in banned_chars("the queen said" + " " * run, PLAIN, None)
    banned = banned_chars("the queen said" + " " * MAX_SPACES, PLAIN, None)
    assert {" ", "\u00a0", "\u200a"} <= banned and "\n" not in banned and "a" not in banned
    mixed = "so" + " \u00a0" * (MAX_SPACES // 2)  # a no-break space is a space too
    assert " " in banned_chars(mixed, PLAIN, None)
    assert " " not in banned_chars(" " * 30 + "so ", PLAIN, None)  # only the run at the end counts


@pytest.mark.parametrize("tail", ["so it was.\n\n", "so it was.\n \t\n", "so it was.\n\n   ", "\n  \n\u00a0"])
def test_after_a_blank_line_no_line_break(tail):
    assert "\n" in banned_chars(tail, PLAIN, None)


@pytest.mark.parametrize("tail", ["so it was.\n", "so it was.\n   ", "so it was.\n“\n", "so\nit\nwas\n"])
def test_one_line_break_may_be_followed_by_another(tail):
    assert "\n" not in banned_chars(tail, PLAIN, None)


def test_lead_counts_white_space_until_the_first_letter():
    lead = 0
    for ch, expected in zip("\n “\n a b", [1, 2, 2, 3, 4, None, None, None], strict=True):
        lead = next_lead(lead, ch)
        assert lead == expected
    assert next_lead(None, " ") is None


def test_after_a_blank_seed_no_white_space_comes_before_the_first_letter():
    assert banned_chars(PARAGRAPH, BLANK, 0) >= WHITESPACE
    assert banned_chars(PARAGRAPH + "“", BLANK, 0) >= WHITESPACE
    assert not WHITESPACE & banned_chars(PARAGRAPH + "alice", BLANK, None)


def test_after_a_seed_with_text_at_most_a_paragraph_break_before_the_first_letter():
    assert " " not in banned_chars("the queen said", PLAIN, 0)
    assert "\n" not in banned_chars("so it was.\n", PLAIN, 1)
    assert banned_chars("so it was.\n\n", PLAIN, MAX_LEAD) >= WHITESPACE
    assert not WHITESPACE & banned_chars("so it was.\n\nalice ", PLAIN, None)


@pytest.mark.parametrize("tail", ["so it was.\n", "so it was.\n      ", "so it was.\n“", "so.\n* ", "* "])
def test_a_line_without_a_letter_takes_no_ornament_mark(tail):
    assert set("*|+=~#") <= banned_chars(tail, PLAIN, None)


def test_ornament_marks_inside_text_and_in_stories_that_have_them_are_free():
    assert "*" not in banned_chars("so it was.\nthe star ", PLAIN, None)
    assert "*" not in banned_chars("so.\n", StoryLayout.of("a.\n* * *\nb"), None)
    assert "*" not in banned_chars("so" + " " * 70, PLAIN, None)  # the line is longer than the guard looks back


def test_dashes_underscores_and_dots_may_start_a_line_but_not_a_rule():
    assert not set("-_.") & banned_chars("so it was.\n", PLAIN, None)  # "--and", "_very_", "...and"
    assert "-" in banned_chars("so it was.\n-", PLAIN, None) and "-" in banned_chars("\n- ", PLAIN, None)
    assert "." in banned_chars("so it was.\n. ", PLAIN, None) and "_" in banned_chars("\n_", PLAIN, None)
    assert "_" not in banned_chars("\n_very", PLAIN, None)


@pytest.mark.parametrize("tail", ["the end.\n\nchapter ", "the end.\n\n        chapter  ", "CHAPTER ",
                                  "\nChapter\u00a0"])
def test_no_numeral_after_chapter_at_a_line_start(tail):
    banned = banned_chars(tail, PLAIN, None)
    assert set("0123456789ivxlcdmIVXLCDM") <= banned and "t" not in banned  # "chapter the last" is text


@pytest.mark.parametrize("tail", ["she read the chapter ", "\nchapter", "\nchapters ", "\nchapter i"])
def test_chapter_elsewhere_is_free(tail):
    assert "i" not in banned_chars(tail, PLAIN, None)


def test_a_story_with_headings_may_have_more():
    assert "i" not in banned_chars("\nchapter ", StoryLayout.of("chapter i.\nso it began."), None)


def test_the_rules_read_only_the_tail():
    text = "a" * 5000 + "\n\n"
    assert layout_rules(text, PLAIN, None) == layout_rules(text[-TAIL_CHARS:], PLAIN, None)


def test_the_guard_gives_the_vocabularys_ids_and_caches_them():
    vocab = Vocab(["\ufffd", "\n", " ", "*", "-", "a", "c", "h", "i", "1", "\u00a0"])
    guard = LayoutGuard(vocab)
    assert guard.banned_ids("so it was", PLAIN, None) == ()
    ids = guard.banned_ids("so.\n\n", PLAIN, None)
    assert [vocab.chars[i] for i in ids] == ["\n", "*"]
    assert guard.banned_ids("so.\n\n", PLAIN, None) is ids  # cached per rule combination
    assert [vocab.chars[i] for i in guard.banned_ids(PARAGRAPH, BLANK, 0)] == ["\n", " ", "*", "\u00a0"]
    assert [vocab.chars[i] for i in guard.banned_ids("\nchapter ", PLAIN, None)] == ["c", "i", "1"]


def guarded_walk(start: str, story: StoryLayout, rng: random.Random, length: int, alphabet: str) -> str:
    """A writer that picks any character of `alphabet` the guard allows, the way a sampler would."""
    tail, lead, written = start, 0, []
    for _ in range(length):
        banned = banned_chars(tail[-TAIL_CHARS:], story, lead)
        ch = rng.choice([c for c in alphabet if c not in banned])
        written.append(ch)
        tail, lead = (tail + ch)[-TAIL_CHARS:], next_lead(lead, ch)
    return "".join(written)


def layout_faults(text: str) -> list[str]:
    faults = []
    if " " * (MAX_SPACES + 1) in text:
        faults.append("long run of spaces")
    if re.search(r"\n[^\S\n]*\n[^\S\n]*\n", text):
        faults.append("two blank lines")
    if re.search(r"^[^\S\n]*[*|+=~#]", text, re.MULTILINE) or re.search(r"^[^\S\n]*[-_.][^\S\n]*[-_.]", text, re.M):
        faults.append("ornament row")
    if re.search(r"^[^\S\n]*chapter[^\S\n]+[0-9ivxlcdm]", text, re.MULTILINE):
        faults.append("heading")
    return faults


@pytest.mark.parametrize("rng_seed", range(40))
def test_a_writer_that_loves_layout_junk_writes_none_from_an_empty_seed(rng_seed):
    rng = random.Random(rng_seed)
    # mostly white space and marks: the worst a model could want
    written = guarded_walk(PARAGRAPH, BLANK, rng, 400, "     \n\n\n***--..__a chapter 1ivx")
    assert not is_blank(written[:1]) and written[:1] not in WHITESPACE
    assert layout_faults(PARAGRAPH + written) == [], written


@pytest.mark.parametrize("rng_seed", range(10))
def test_a_writer_after_a_seed_with_text_stays_clean_too(rng_seed):
    seed = "the queen said"
    written = guarded_walk(seed, StoryLayout.of(seed), random.Random(rng_seed), 400, "      \n\n\n**--._a\u00a0")
    assert layout_faults(seed + written) == [] and not is_blank(written[:MAX_LEAD + 1])


def test_the_bundled_model_writes_text_from_an_empty_seed_over_40_rng_seeds(loaded, one_torch_thread):
    """The real model, sampled at temperature 0.8 with the guard's ids masked out, as the engine will."""
    model, vocab = loaded.model, loaded.vocab
    guard = LayoutGuard(vocab)
    rows = 40
    ids = torch.tensor([vocab.encode(story_start(""))] * rows)
    torch.manual_seed(0)
    logits, state = model.read(ids)
    tails, leads, written = [story_start("")] * rows, [0] * rows, [[] for _ in range(rows)]
    for _ in range(120):
        logits = logits.float() / 0.8
        for row in range(rows):
            logits[row, list(guard.banned_ids(tails[row], BLANK, leads[row]))] = -torch.inf
        chosen = torch.multinomial(torch.softmax(logits, -1), 1)[:, 0]
        for row, i in enumerate(chosen.tolist()):
            ch = vocab.chars[i]
            written[row].append(ch)
            tails[row], leads[row] = (tails[row] + ch)[-TAIL_CHARS:], next_lead(leads[row], ch)
        logits, state = model.step(chosen, state)
    texts = ["".join(w) for w in written]
    assert all(text[0] not in WHITESPACE for text in texts)
    assert all(not is_blank(text[:20]) for text in texts)
    assert [layout_faults(PARAGRAPH + text) for text in texts] == [[]] * rows


def test_a_call_costs_microseconds():
    guard = LayoutGuard(Vocab(["\ufffd", *sorted(set("\n abcdefghijklmnopqrstuvwxyz.,;*-_“”’"))]))
    text = ("“so it was,” said the queen.\n\nthe end.\n\n" + "the queen said nothing to alice, who went on. ") * 4
    tails = [text[max(0, i - TAIL_CHARS):i] for i in range(1, len(text))]
    best = []
    for _ in range(5):
        start = time.perf_counter()
        for tail in tails:
            guard.banned_ids(tail, PLAIN, None)
        best.append((time.perf_counter() - start) / len(tails))
    assert min(best) < 50e-6  # a loose bound for a shared machine: it is a few microseconds
