"""Reading books: decoding, Project Gutenberg stripping, and the one-line errors for bad input."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
from pathlib import Path

import pytest

from train.corpus import Book, CorpusError, decode_bytes, read_book, read_books, strip_gutenberg

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus folder {CORPUS} is absent")

# From shared/corpus/README.md.
WONDERLAND_CHARS = "\n !(),-.03:;?[]_abcdefghijklmnopqrstuvwxyzù—‘’“”"
WONDERLAND_SHA256 = "b81146c82ae8d0f4aa74f589d5e1258d4ac8dc0094edd351bd78a1bd5744982d"


def book(name: str, **kwargs) -> Book:
    return read_book(str(CORPUS / name), **kwargs)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@needs_corpus
def test_wonderland_keeps_exactly_the_text_between_the_markers():
    b = book("wonderland.txt")
    assert b.name == "wonderland.txt"
    assert b.encoding == "utf-8" and b.stripped_gutenberg
    assert b.sha256 == WONDERLAND_SHA256
    assert "\ufeff" not in b.text
    assert len(b.text) == 142_957
    assert "".join(sorted(set(b.text))) == WONDERLAND_CHARS
    assert b.text.startswith("[illustration]\n\nalice’s adventures in wonderland\n\nby lewis carroll")
    assert b.text.endswith("and the happy summer\ndays.\n\nthe end")
    assert "gutenberg" not in b.text and "*** end" not in b.text
    assert b.raw_chars > len(b.text)
    assert any("142,957" in note for note in b.notes)


@needs_corpus
def test_lookingglass_indented_end_marker_leaves_no_licence():
    b = book("lookingglass.txt")
    assert b.stripped_gutenberg
    assert b.text.startswith("[illustration]")
    assert b.text.endswith("life, what is it but a dream?\n\nthe end")
    assert "gutenberg" not in b.text
    assert "trademark" not in b.text and "™" not in b.text


@needs_corpus
def test_alice29_crlf_and_dos_eof_byte_are_gone():
    b = book("alice29.txt")
    assert not b.stripped_gutenberg  # this old edition ships without a PG header/footer
    assert "\r" not in b.text and "\x1a" not in b.text
    assert b.text.startswith("alice's adventures in wonderland\n\n")
    assert b.text.endswith("the happy summer days.\n\nthe end")
    assert b.raw_chars == 152_089


@needs_corpus
def test_keep_case_when_asked():
    b = book("wonderland.txt", lowercase=False)
    assert b.text.startswith("[Illustration]\n\nAlice’s Adventures in Wonderland")
    assert b.text.endswith("THE END")
    assert len(b.text) == 142_957


@needs_corpus
def test_read_books_reads_each_in_order_and_stops_at_a_bad_one(tmp_path):
    books = read_books([str(CORPUS / "wonderland.txt"), str(CORPUS / "alice29.txt")])
    assert [b.name for b in books] == ["wonderland.txt", "alice29.txt"]
    with pytest.raises(CorpusError, match="missing.txt: no such file"):
        read_books([str(CORPUS / "wonderland.txt"), str(tmp_path / "missing.txt")])
    with pytest.raises(CorpusError, match="no book given"):
        read_books([])


def test_latin1_file_falls_back_with_a_note(tmp_path):
    path = tmp_path / "cafe.txt"
    path.write_bytes("Un café au lait, s'il vous plaît.\r\n".encode("latin-1") * 40)
    b = read_book(str(path))
    assert b.encoding == "latin-1"
    assert "café" in b.text and "plaît" in b.text and "\r" not in b.text
    (note,) = [n for n in b.notes if "latin-1" in n]
    assert "cafe.txt" in note and "0xE9" in note and "\n" not in note


def test_decode_bytes_drops_the_bom_and_keeps_utf8():
    text, encoding, notes = decode_bytes("\ufeffAlice’s".encode(), "x.txt")
    assert (text, encoding, notes) == ("Alice’s", "utf-8", [])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "PNG image"),
        (None, "gzip archive"),  # the real wonderland, gzipped
        (b"chapter one\x00\x00\x00 and so on" * 100, "NUL bytes"),
        (random.Random(0).randbytes(8192).replace(b"\x00", b"\x01"), "control codes"),
    ],
    ids=["png", "gzip", "nul", "random-bytes"],
)
def test_binary_files_are_rejected(tmp_path, data, expected):
    if data is None:
        if not CORPUS.is_dir():
            pytest.skip(f"shared corpus folder {CORPUS} is absent")
        data = gzip.compress((CORPUS / "wonderland.txt").read_bytes())
    path = tmp_path / "book.txt"
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=expected) as error:
        read_book(str(path))
    assert str(path) in one_line(error)


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty.txt: the file is empty") as error:
        read_book(str(path))
    one_line(error)


def test_whitespace_only_file_has_no_text(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_bytes(b" \r\n\t\n\x1a")
    with pytest.raises(CorpusError, match="blank.txt: no text after cleaning"):
        read_book(str(path))


def test_too_short_is_rejected_and_min_chars_is_the_limit(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("  Alice was beginning to get very tired.  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="short.txt: only 38 characters .* at least 1,000") as error:
        read_book(str(path))
    one_line(error)
    assert read_book(str(path), min_chars=38).text == "alice was beginning to get very tired."
    with pytest.raises(CorpusError):
        read_book(str(path), min_chars=39)


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(CorpusError, match="nothere.txt: no such file"):
        read_book(str(tmp_path / "nothere.txt"))
    with pytest.raises(CorpusError, match="is a directory"):
        read_book(str(tmp_path))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_named(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("x" * 2000)
    path.chmod(0)
    with pytest.raises(CorpusError, match="secret.txt: cannot read it"):
        read_book(str(path))


def test_strip_gutenberg_modern_markers_and_footer_line():
    text = (
        "The Project Gutenberg eBook of A Book\n\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK A BOOK ***\n"
        "Once upon a time.\n"
        "End of the Project Gutenberg EBook of A Book\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK A BOOK ***\n"
        "Licence text.\n"
    )
    assert strip_gutenberg(text) == ("Once upon a time.\n", True)


def test_strip_gutenberg_old_small_print_header():
    licence = "".join(f"licence line {i}\n" for i in range(20))
    text = (
        "Project Gutenberg's Etext of A Book\n" + licence
        + "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n"
        + "Chapter 1\nIt was a dark night.\n" * 30
        + "End of Project Gutenberg's Etext of A Book\n"
    )
    body, stripped = strip_gutenberg(text)
    assert stripped
    assert body == "Chapter 1\nIt was a dark night.\n" * 30


def test_small_print_in_the_footer_keeps_the_story():
    story = "It was a dark night.\n" * 30
    text = story + "End of Project Gutenberg's A Book\n*END THE SMALL PRINT! FOR PUBLIC DOMAIN EBOOKS*\n"
    assert strip_gutenberg(text) == (story, True)


def test_text_without_markers_is_unchanged():
    text = "Alice said: the project gutenberg is nowhere here.\n"
    assert strip_gutenberg(text) == (text, False)


def test_sha256_is_of_the_raw_bytes(tmp_path):
    data = "\ufeffThe story.\r\n".encode() * 200
    path = tmp_path / "s.txt"
    path.write_bytes(data)
    assert read_book(str(path)).sha256 == hashlib.sha256(data).hexdigest()
