"""Characters <-> ids, and the one text normalisation used at training and generation time."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

VOCAB_FORMAT = 1
UNKNOWN_CHAR = "\ufffd"  # the one symbol every rare or unseen character folds into
PARAGRAPH = "\n\n"  # what an empty seed starts from
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc, less tab and newline

# Typed characters and their look-alikes in printed books, tried before giving up on a character.
_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "'": ("\u2019", "\u2018"),
    "\u2019": ("'",),
    "\u2018": ("'", "\u2019"),
    '"': ("\u201c", "\u201d"),
    "\u201c": ('"',),
    "\u201d": ('"', "\u201c"),
    "\u2014": ("-",),
    "\u2013": ("-", "\u2014"),
    "-": ("\u2014",),
    "\t": (" ",),
}


def normalize_text(text: str, lowercase: bool = True) -> str:
    """Line endings to LF, control characters (0x1A, NUL, ...) dropped, optionally lowercased.

    Training text and users' seeds both pass through here, so the model sees one alphabet.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _CONTROL.sub("", text)
    return text.lower() if lowercase else text


class VocabError(ValueError):
    """vocab.json is missing a field or contradicts itself."""


@dataclass
class Vocab:
    """The model's alphabet. Id 0 is always the unknown symbol.

    Unknown-character policy `"fold"`: a character outside the alphabet is replaced by a
    look-alike (straight/curly quotes, dashes, an accented letter's base letter) when the
    alphabet has one, else by the unknown symbol. Never raises on text.
    """

    chars: list[str]
    lowercase: bool = True
    unknown: str = "fold"
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.chars or self.chars[0] != UNKNOWN_CHAR:
            raise VocabError(f"vocab: the first character must be the unknown symbol {UNKNOWN_CHAR!r}")
        if len(set(self.chars)) != len(self.chars):
            raise VocabError("vocab: characters are not unique")
        if any(len(ch) != 1 for ch in self.chars):
            raise VocabError("vocab: every entry of 'chars' must be one character")
        if self.unknown != "fold":
            raise VocabError(f"vocab: unknown-character policy {self.unknown!r} is not supported")
        self._index = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def build(cls, text: str, lowercase: bool = True, min_count: int = 1) -> Vocab:
        """Alphabet of already-normalised `text` (see `from_counts`)."""
        return cls.from_counts(Counter(text), lowercase=lowercase, min_count=min_count)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], lowercase: bool = True, min_count: int = 1) -> Vocab:
        """Alphabet from character counts; characters seen fewer than `min_count` times fold into
        the unknown symbol, so a stray glyph does not widen the vocabulary."""
        kept = sorted(ch for ch, n in counts.items() if n >= min_count and ch != UNKNOWN_CHAR)
        return cls([UNKNOWN_CHAR, *kept], lowercase=lowercase)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def unknown_id(self) -> int:
        return 0

    def char_id(self, ch: str) -> int:
        """Id of one character, applying the unknown-character policy."""
        i = self._index.get(ch)
        if i is not None:
            return i
        for alt in _EQUIVALENTS.get(ch, ()):
            if alt in self._index:
                return self._index[alt]
        base = unicodedata.normalize("NFKD", ch)[:1]
        if base and base != ch and base in self._index:
            return self._index[base]
        return 0

    def encode(self, text: str) -> list[int]:
        """Ids of `text`, which must already be normalised (see `normalize`)."""
        index = self._index
        return [index[ch] if ch in index else self.char_id(ch) for ch in text]

    def normalize(self, text: str) -> str:
        return normalize_text(text, self.lowercase)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def to_json(self) -> dict:
        return {
            "format_version": VOCAB_FORMAT,
            "chars": self.chars,
            "unknown": self.unknown,
            "unknown_char": UNKNOWN_CHAR,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        if not isinstance(data, dict) or not isinstance(data.get("chars"), list):
            raise VocabError("vocab.json: no 'chars' list")
        version = data.get("format_version")
        if version != VOCAB_FORMAT:
            raise VocabError(f"vocab.json: format_version {version!r}, this alice reads {VOCAB_FORMAT}")
        return cls(list(data["chars"]), lowercase=bool(data.get("lowercase", True)),
                   unknown=str(data.get("unknown", "fold")))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
