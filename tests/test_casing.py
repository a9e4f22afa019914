"""Printed case: the bundled models' casing records, the re-caser (as streams use it, a character at a
time), the record's failures, and generated text at the defaults shown as the book prints it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from together import write_together

from engine import Generator
from engine.casing import CASING, Casing, Recaser, read_casing, recase, vocab_digest
from engine.lexicon import WORD
from engine.modelfolder import BUNDLED_MODEL, BUNDLED_MODELS, load_model_folder, read_model_info

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NAMES = ("alice", "queen", "king", "hatter", "gryphon", "dormouse")  # printed with a capital wherever they stand


@pytest.fixture(scope="module")
def alice() -> Casing:
    vocab, _ = read_model_info(BUNDLED_MODEL)
    record, note = read_casing(BUNDLED_MODEL, vocab.chars)
    assert record is not None, note
    return record


def streamed(text: str, casing: Casing | None, context: str = "") -> str:
    """`text` fed to a Recaser one character at a time, as a stream that writes slowly would."""
    recaser = Recaser(casing)
    recaser.prime(context)
    return "".join(recaser.feed(ch) for ch in text) + recaser.finish()


def test_sentence_starts_quotes_paragraphs_and_i_without_a_record():
    text = "“why, the latter,” said the gryphon. “i don’t know.”\n\nthen i’m off! and so was i.\n“oh,” she said."
    assert recase(text, None) == ("“Why, the latter,” said the gryphon. “I don’t know.”\n\nThen I’m off! And so was "
                                  "I.\n“Oh,” she said.")


def test_the_bundled_model_prints_names_as_carroll_does(alice: Casing):
    text = "“why, the latter was the sort of time,” said the gryphon, “i don’t know what to do before.”"
    assert recase(text, alice) == ("“Why, the latter was the sort of time,” said the Gryphon, “I don’t know what to "
                                   "do before.”")
    assert recase("the mock turtle sighed, and the march hare and alice said so.", alice) == \
        "The Mock Turtle sighed, and the March Hare and Alice said so."


@pytest.mark.parametrize("text", [
    "alice was beginning to get very tired. “so she was,” said the queen.\n\n“i’ve a right,” she said—‘o mouse!’",
    "the white rabbit\nand the king of hearts\n\n'what' said alice, 'is the use of a book?'",
])
def test_a_stream_a_character_at_a_time_shows_what_the_whole_text_shows(alice: Casing, text: str):
    assert streamed(text, alice) == recase(text, alice)
    assert recase(text, alice).lower() == text  # only case changes, never a letter


def test_only_the_word_being_written_is_held_back_and_nothing_is_taken_back(alice: Casing):
    recaser, shown = Recaser(alice), ""
    recaser.prime("the queen said")
    for piece in (" to", " the", " king. “", "off", " with", " his he", "ad!”"):
        shown += recaser.feed(piece)
        assert recaser.held == "" or WORD.fullmatch(recaser.held.rstrip("'’-"))  # a word, or nothing
    shown += recaser.finish()
    assert shown == " to the King. “Off with his head!”"


def test_a_word_the_seed_began_is_cased_whole_but_shown_from_where_the_stream_took_over(alice: Casing):
    assert streamed("n said. and so", alice, context="“off with her head!” the quee") == "n said. And so"
    assert streamed("ce was tired", alice, context="so ali") == "ce was tired"  # "Alice": the A was the seed's


def test_text_in_scripts_without_case_passes_unchanged(alice: Casing):
    for text in ("爱丽丝坐在河边。她很累。", "อลิซนั่งอยู่ริมฝั่ง แล้วเธอก็เหนื่อย"):
        assert recase(text, alice) == text == streamed(text, alice)


def test_the_record_reads_back_as_written(alice: Casing):
    again = Casing.parse(alice.to_text())
    assert again.to_text() == alice.to_text()
    for folder in ("alice", "library"):
        size = (BUNDLED_MODELS / folder / CASING).stat().st_size
        assert size < 400_000, f"{folder}/{CASING} is {size:,} bytes"


@pytest.mark.parametrize("content, says", [
    ("word queen\n", "line 1 is not a casing row"),
    ("\xff\xfe garbage", "not UTF-8"),
    ("vocab 0123456789abcdef\nword queen Queen 5 5\n", "made for another model"),
])
def test_a_broken_record_says_so_in_one_line_and_streams_go_on_with_sentence_starts(tmp_path: Path, content: str,
                                                                                       says: str, caplog):
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.safetensors", "vocab.json", "config.json", "lexicon.txt"):
        (folder / name).write_bytes((BUNDLED_MODEL / name).read_bytes())
    raw = content.encode("latin-1") if content.startswith("\xff") else content.encode()
    (folder / CASING).write_bytes(raw)
    loaded = load_model_folder(folder)
    assert loaded.casing is None and says in loaded.casing_note and "\n" not in loaded.casing_note
    assert says in caplog.text
    with Generator(loaded) as gen:
        text = gen.generate("", 300, rng_seed=3, exact=False)
    assert text and lowercase_sentence_starts(text) == [] and "i" not in WORD.findall(text)


def test_a_huge_record_is_not_read(tmp_path: Path):
    vocab, _ = read_model_info(BUNDLED_MODEL)
    (tmp_path / CASING).write_text(f"vocab {vocab_digest(vocab.chars)}\n" + "# padding\n" * 500_000)
    record, note = read_casing(tmp_path, vocab.chars)
    assert record is None and "over 4 MB" in note


def test_same_rng_seed_same_text_only_cased(loaded):
    with Generator(loaded, precision="fp32") as gen:
        for seed in ("alice was", "the queen said, “"):
            book = gen.generate(seed, 200, rng_seed=11, exact=False)
            lower = gen.generate(seed, 200, rng_seed=11, exact=False, case="lower")
            assert book.lower() == lower and book != lower


def test_twenty_continuations_at_the_defaults_read_like_the_book(loaded):
    seeds = (["Alice was", "The Queen said", "", "The Mock Turtle", "“What", "So she"] * 4)[:20]
    with Generator(loaded) as gen:
        jobs = [{"seed": seed, "length": 300, "rng_seed": n, "best_of": 2, "exact": False}
                for n, seed in enumerate(seeds)]
        texts = [seed + text for seed, text in zip(seeds, write_together(gen, jobs), strict=True)]
    for text in texts:
        words = WORD.findall(text)
        assert "i" not in words, text
        assert lowercase_sentence_starts(text) == [], text
        assert [w for w in words if w.lower() in NAMES and w[0].islower()] == [], text


def lowercase_sentence_starts(text: str) -> list[str]:
    """Where a sentence starts with a lowercase letter: the text's start, after a blank line, after . ! ?
    and white space, or after a quote closed on one and an opening quote (not `“oh!” said alice`)."""
    starts = re.finditer(r"(?:^|\n\n|[.!?]\s+|[.!?][”’\")_]+\s+(?=[“‘\"(_]))[“‘\"(_]*(\w)", text)
    return [m.group(0) for m in starts if m.group(1).islower()]


def test_the_cli_prints_a_file_as_streams_show_it(tmp_path: Path):
    book = tmp_path / "page.txt"
    book.write_text("THE QUEEN said to Alice: “Off with her head!”\n")
    out = subprocess.run([sys.executable, "-m", "engine.casing", "alice", str(book)], capture_output=True,
                         text=True, check=True, cwd=tmp_path).stdout
    assert out == "The Queen said to Alice: “Off with her head!”\n"
