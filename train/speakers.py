"""`python -m train.speakers MODEL_DIR [--books FILE ...]`: who speaks in a model's books (speakers.json).

A speaker is a name the book prints with a capital right beside a speech verb, next to the end of a
quotation: `”, said the Hatter`, `” the Queen shouted`, `” said Alice`. Counted over the printed
text (before it is lowercased for training), pronouns and sentence words left out. Training writes
the record for every new model (train/loop.py); this command rebuilds it for a folder from the books
its config.json names (no retraining), or from the texts given with --books.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from engine.dialogue import MAX_CAST, SPEAKERS
from engine.modelfolder import ModelFolderError, read_model_info, resolve_model_dir, write_atomic
from train.corpus import read_book
from train.gutenberg import CorpusError

VERBS = ("said", "says", "asked", "cried", "replied", "answered", "exclaimed", "shouted", "whispered", "remarked",
         "continued", "added", "repeated", "screamed", "called", "inquired", "interrupted", "muttered", "observed",
         "sighed", "growled", "roared", "sobbed", "began", "went on", "returned", "rejoined", "murmured", "cried out")
_VERB = "|".join(sorted((re.escape(v) for v in VERBS), key=len, reverse=True))
_NAME = r"((?:[Tt]he )?[A-Z][a-z’']+(?: [A-Z][a-z’']+){0,2})"  # Alice, the Hatter, the Mock Turtle
_CLOSE = r"[”\"’'][,.!?]?\s+"
_AFTER = re.compile(rf"{_CLOSE}(?:{_VERB})\s+{_NAME}")  # ” said the Hatter
_BEFORE = re.compile(rf"{_CLOSE}{_NAME}\s+(?:{_VERB})\b")  # ” the Hatter said
NOT_NAMES = frozenset({"he", "she", "i", "it", "they", "we", "you", "so", "and", "but", "then", "this", "that",
                       "there", "here", "his", "her", "one", "nobody", "everybody", "somebody", "who", "what",
                       "yes", "no", "oh", "well", "now", "mr", "mrs", "miss", "sir", "madam", "the"})
MIN_COUNT = 2  # a name beside speech once is as likely a misreading as a speaker


def tidy_name(name: str) -> str | None:
    """`The Mock Turtle` -> `the Mock Turtle`; None for a pronoun or a sentence word (`So Alice`)."""
    words = name.split()
    if words[0].lower() == "the":
        words[0] = "the"
    if words[0].lower() in NOT_NAMES - {"the"} or all(w.lower() in NOT_NAMES for w in words):
        return None
    return " ".join(words)


def count_speakers(texts: Iterable[str]) -> Counter:
    """Each speaker's count over printed (cased) texts."""
    counts: Counter = Counter()
    for text in texts:
        for pattern in (_AFTER, _BEFORE):
            for match in pattern.finditer(text):
                name = tidy_name(match[1])
                if name:
                    counts[name] += 1
    return counts


def cast_record(counts: Counter, books: list[str]) -> dict:
    """speakers.json's content: the MAX_CAST most frequent speakers seen MIN_COUNT times or more."""
    kept = [[name, n] for name, n in counts.most_common() if n >= MIN_COUNT][:MAX_CAST]
    return {"format": 1, "books": books, "speakers": kept}


def books_speakers(specs: list[str]) -> Counter:
    """The speakers of books (files or gutenberg:N), read as training reads them but keeping case."""
    return count_speakers(read_book(spec, lowercase=False, min_chars=1).text for spec in specs)


def write_cast(folder: Path, counts: Counter, books: list[str]) -> dict:
    record = cast_record(counts, books)
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_atomic(Path(folder) / SPEAKERS, json.dumps(record, ensure_ascii=False, indent=1).encode())
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.speakers", description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="model folder (or a bundled model's name)")
    parser.add_argument("--books", nargs="+", default=[], metavar="FILE",
                        help="read these texts (files or gutenberg:N) instead of the books config.json names")
    args = parser.parse_args(argv)
    folder = resolve_model_dir(args.model_dir)
    try:
        _, config = read_model_info(folder)
        books = list(args.books) or [str(b) for b in (config.get("training") or {}).get("books") or []]
        if not books:
            raise ValueError(f"{folder}: config.json records no training books; give the text with --books FILE")
        record = write_cast(folder, books_speakers(books), books)
    except (ModelFolderError, CorpusError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    top = ", ".join(f"{name} ({n})" for name, n in record["speakers"][:8])
    print(f"{folder / SPEAKERS}: {len(record['speakers'])} speakers: {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
