"""Training text without the printed page: left-aligned lines, no ornament rows, no chapter headings,
no long runs of spaces, at most one blank line in a row; the words and punctuation kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from train.corpus import read_book
from train.layout import MAX_SPACES, clean_layout
from train.prepare import CorpusRules, prepare_corpus

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus folder {CORPUS} is absent")
WORDS = re.compile(r"[^\s]+")


def test_indented_and_centred_lines_are_left_aligned_with_their_words_unchanged():
    text = ("                    THE MOUSE’S TALE\n"
            "    “Fury said to a\n"
            "\t\tmouse, That he met\n"
            "   in the house,”   \n"
            "said the Mouse.")
    expected = "THE MOUSE’S TALE\n“Fury said to a\nmouse, That he met\nin the house,”\nsaid the Mouse."
    assert clean_layout(text) == expected


@pytest.mark.parametrize("row", ["*       *       *       *       *", "* * * * *", "*****", "      *",
                                 "-" * 72, "__________", "+------------+", "|            |", ". . . . .",
                                 "~ ~ ~", "=====", "* * *\t* *"])
def test_ornament_rows_are_dropped(row):
    text = f"she went on.\n\n{row}\n\nthe queen said so."
    assert clean_layout(text) == "she went on.\n\nthe queen said so."


def test_lines_that_only_start_or_end_with_symbols_are_text():
    text = "_very_ remarkable, she thought.\n--and so it went on.\n“* is a star,” he said.\n. . . and then.”"
    assert clean_layout(text) == text


def test_no_run_of_spaces_longer_than_the_books_and_shorter_runs_kept():
    text = "the end of the line" + " " * 40 + "page 12\nso  she  said" + " " * MAX_SPACES + "yes"
    cleaned = clean_layout(text)
    assert cleaned == "the end of the line page 12\nso  she  said" + " " * MAX_SPACES + "yes"
    assert " " * (MAX_SPACES + 1) not in cleaned


def test_at_most_one_blank_line_in_a_row_and_none_at_the_ends():
    text = "\n\n\nfirst.\n\n\n\n\nsecond.\n   \n\t\n  \nthird.\nfourth.\n\n\n"
    assert clean_layout(text) == "first.\n\nsecond.\n\nthird.\nfourth."


@pytest.mark.parametrize("heading", ["CHAPTER I.\nDown the Rabbit-Hole", "chapter xii.", "Chapter 12",
                                     "CHAPTER IV     The Rabbit Sends in a Little Bill", "chapter the last",
                                     "BOOK THE FIRST", "Part II: The Return", "STAVE ONE", "CHAPTER 24--WHICH?",
                                     "chapter xxi  a persian in\nthe cellars of the opera", "XII.", "  CONTENTS",
                                     "     CHAPTER VII.\n       A Mad Tea-Party"])
def test_chapter_headings_and_their_titles_are_dropped(heading):
    text = f"so it ended.\n\n\n{heading}\n\n\nalice was beginning to get very tired."
    assert clean_layout(text) == "so it ended.\n\nalice was beginning to get very tired."


def test_prose_that_looks_a_little_like_a_heading_is_kept():
    text = ("she read the\nbook i gave her, and\npart of the\nchapter in which\nthe hatter spoke.\n"
            "did\nmild\n1862 was the year, she said.\n\nchapter xii.\nit was a long, long day, and the\n"
            "rain fell on the garden all the afternoon.")
    cleaned = clean_layout(text)
    assert cleaned == text.replace("\n\nchapter xii.\n", "\n\n\n").replace("\n\n\n", "\n\n")
    assert "1862 was the year" in cleaned and "it was a long, long day" in cleaned


def test_a_page_number_line_goes_and_the_prose_under_it_stays():
    text = "she said:\n276\nothers. speaking the words with sweet diffidence, she said:"
    assert clean_layout(text) == "she said:\nothers. speaking the words with sweet diffidence, she said:"


@needs_corpus
def test_wonderland_training_text_is_clean_and_keeps_every_word_of_the_story():
    raw = (CORPUS / "wonderland.txt").read_text(encoding="utf-8")
    story = raw[raw.index("Alice was beginning"):raw.index("THE END")]
    text = read_book(str(CORPUS / "wonderland.txt"), lowercase=False).text
    assert not re.search(r"^[ \t]", text, re.MULTILINE)  # left-aligned
    assert "*" not in text and "\n\n\n" not in text and " " * (MAX_SPACES + 1) not in text
    assert not re.search(r"^chapter", text, re.MULTILINE | re.IGNORECASE)
    # every word and mark of the story, in order, less the headings and the ornaments
    kept = [w for w in WORDS.findall(story) if set(w) != {"*"}]
    headings = re.findall(r"^CHAPTER [IVXL]+\.\n[^\n]+", story, re.MULTILINE)
    assert len(headings) == 11  # chapters II to XII (chapter I stands before "Alice was beginning")
    dropped = [w for h in headings for w in WORDS.findall(h)]
    story_words = WORDS.findall(text[text.index("Alice was beginning"):text.index("THE END")])
    assert len(story_words) == len(kept) - len(dropped)
    assert " ".join(story_words) == " ".join(WORDS.findall(re.sub(
        r"^CHAPTER [IVXL]+\.\n[^\n]+", "", re.sub(r"^[ *]+$", "", story, flags=re.MULTILINE), flags=re.MULTILINE)))


@needs_corpus
def test_prepared_training_ids_come_from_the_cleaned_text(tmp_path):
    prepared = prepare_corpus([str(CORPUS / "wonderland.txt")], CorpusRules(True, 3, 0.1, 1000), cache_dir=tmp_path)
    assert "*" not in prepared.vocab.chars  # the ornament rows were its only asterisks
    text = prepared.vocab.decode([int(i) for i in prepared.train_ids])
    assert "\n\n\n" not in text and "chapter i." not in text
