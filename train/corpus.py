"""Books to training text: read bytes, decode, strip the Project Gutenberg header and footer, normalise,
and drop the printed layout (train/layout.py).

Every problem with a book (missing, binary, empty, too short, download failed) is a `CorpusError`
whose message is one line naming the book, for the CLI to print without a traceback.
"""

from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from engine.vocab import normalize_text
from train.gutenberg import CorpusError, book_number, cache_path, resolve_source
from train.layout import clean_layout

__all__ = ["Book", "CorpusError", "decode_bytes", "read_book", "read_books", "resolve_source", "strip_gutenberg"]

# Files that are surely not books, by their first bytes.
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\x1f\x8b": "a gzip archive",
    b"PK\x03\x04": "a zip archive",
    b"%PDF-": "a PDF document",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xfd7zXZ\x00": "an xz archive",
    b"7z\xbc\xaf\x27\x1c": "a 7z archive",
}
# C0 control bytes and DEL, less the ones plain text uses (tab, LF, VT, FF, CR) and the DOS EOF 0x1A.
_CONTROL_BYTES = bytes(b for b in [*range(32), 127] if b not in b"\t\n\x0b\x0c\r\x1a")
_MAX_CONTROL_SHARE = 0.05  # real text has ~0; random (compressed, binary) bytes have ~12%

# Whole-line patterns searched in the whole text (no list of lines: books can be hundreds of MB).
_LINE = re.IGNORECASE | re.MULTILINE
_HEADER_END = re.compile(r"^[ \t]*\*+[ \t]*start of (the |this )?project gutenberg[^\n]*\n?", _LINE)
# The licence at the top of 1990s texts ends with "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS...".
_SMALL_PRINT_END = re.compile(r"^[ \t]*\*[ \t]*end[ \t]*\*?[ \t]*the small print[^\n]*\n?", _LINE)
# "*** END OF THE PROJECT GUTENBERG EBOOK", "End of Project Gutenberg's ...", "End of the Project Gutenberg EBook"
_FOOTER_START = re.compile(r"^[ \t]*\**[ \t]*end of (the |this )?project gutenberg", _LINE)


@dataclass
class Book:
    """One book, read and cleaned, ready for `Vocab.build` / `Vocab.encode`."""

    name: str  # file name, or "gutenberg:N"
    path: Path  # the local file read (cache file for gutenberg)
    text: str  # cleaned, normalised body
    sha256: str  # of the raw file bytes
    raw_chars: int  # characters after decoding, before stripping
    encoding: str  # "utf-8" or "latin-1"
    stripped_gutenberg: bool
    notes: list[str] = field(default_factory=list)  # one-line human notes, for the CLI to print


def strip_gutenberg(text: str) -> tuple[str, bool]:
    """The text strictly between the Project Gutenberg header and footer lines, and whether any
    was found. Text without them comes back unchanged."""
    header = _HEADER_END.search(text)
    if header is None:
        header = _SMALL_PRINT_END.search(text)
        # Newer files repeat the small print in the footer; only a top-half one ends a header.
        if header is not None and header.start() >= len(text) // 2:
            header = None
    body_from = 0 if header is None else header.end()
    footer = _FOOTER_START.search(text, body_from)
    if header is None and footer is None:
        return text, False
    return text[body_from:footer.start() if footer else len(text)], True


def decode_bytes(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """Text, encoding ("utf-8" or "latin-1") and notes for a file's bytes. A UTF-8 BOM is dropped;
    bytes that are not UTF-8 are read as latin-1, with a note. Binary data raises CorpusError."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise CorpusError(f"{name}: this is {kind}, not a text file")
    if b"\x00" in data:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise CorpusError(f"{name}: this is UTF-16 text; save it as UTF-8")
        raise CorpusError(f"{name}: contains NUL bytes, so it is binary, not a text file")
    controls = sum(data.count(bytes([b])) for b in _CONTROL_BYTES)  # no copy of a big file
    if data and controls / len(data) > _MAX_CONTROL_SHARE:
        share = controls / len(data)
        raise CorpusError(f"{name}: {share:.0%} of its bytes are control codes, so it is not a text file")
    try:
        return data.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError as e:
        note = f"{name}: not valid UTF-8 (byte 0x{data[e.start]:02X} at offset {e.start}), read as latin-1"
        return data.decode("latin-1"), "latin-1", [note]


def read_book(spec: str, lowercase: bool = True, min_chars: int = 1000, cache_dir: Path | None = None) -> Book:
    """Read one book (a path or `gutenberg:N`) into its cleaned text.

    Raises CorpusError for a missing, unreadable, binary, empty or too short (under `min_chars`
    characters once cleaned) book, or a failed download.
    """
    number = book_number(spec)
    downloading = number is not None and not cache_path(number, cache_dir).is_file()
    path = resolve_source(spec, cache_dir=cache_dir)
    name = spec if number is not None else path.name
    data = _read_bytes(path, spec)
    if not data:
        raise CorpusError(f"{spec}: the file is empty")
    text, encoding, notes = decode_bytes(data, spec)
    sha256 = hashlib.sha256(data).hexdigest()
    del data  # a big corpus should not sit in memory twice
    if downloading:
        notes.insert(0, f"{name}: downloaded to {path}")
    raw_chars = len(text)
    text = normalize_text(text, lowercase)
    body, stripped = strip_gutenberg(text)
    del text
    body = clean_layout(body).strip()
    if stripped:
        notes.append(f"{name}: Project Gutenberg header/footer removed")
    if len(body) < min_chars:
        what = "no text" if not body else f"only {len(body):,} characters of text"
        raise CorpusError(f"{spec}: {what} after cleaning; at least {min_chars:,} are needed")
    notes.append(f"{name}: kept {len(body):,} of {raw_chars:,} characters")
    return Book(name=name, path=path, text=body, sha256=sha256, raw_chars=raw_chars,
                encoding=encoding, stripped_gutenberg=stripped, notes=notes)


def read_books(specs: list[str], lowercase: bool = True, min_chars: int = 1000, cache_dir=None) -> list[Book]:
    """`read_book` for each spec, in order; the first bad book raises CorpusError."""
    if not specs:
        raise CorpusError("no book given: name a text file or gutenberg:N")
    return [read_book(spec, lowercase=lowercase, min_chars=min_chars, cache_dir=cache_dir) for spec in specs]


def _read_bytes(path: Path, spec: str) -> bytes:
    """The file's bytes; CorpusError for anything that is not a readable regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CorpusError(f"{spec}: no such file") from None
    except OSError as e:
        raise CorpusError(f"{spec}: cannot read it: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise CorpusError(f"{spec}: is a directory, not a text file")
    # A FIFO or a device (/dev/zero) would block or never end.
    if not stat.S_ISREG(mode):
        raise CorpusError(f"{spec}: is not a regular file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise CorpusError(f"{spec}: cannot read it: {e.strerror or e}") from None
