"""Books -> vocabulary + memory-mapped train/validation ids, tokenised once and cached.

The cache key is the raw files' sha256 plus every setting that changes the ids, so a second run
on the same books skips decoding and tokenising entirely.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from engine.lexicon import LEXICON, Lexicon
from engine.modelfolder import write_atomic
from engine.vocab import Vocab
from train.corpus import read_book, read_books
from train.data import CHUNK_CHARS, id_dtype, split_texts, write_ids
from train.finetune import extend_vocab
from train.gutenberg import resolve_source
from train.lexicon import text_lexicon

TOKENS_VERSION = 2  # 2: the books' layout is cleaned out (train/layout.py)


@dataclass
class PreparedCorpus:
    vocab: Vocab
    train_ids: np.ndarray
    val_ids: np.ndarray
    info: dict  # name, sha256, chars, books: [{name, sha256, chars}]
    notes: list[str]
    lexicon: Lexicon  # the books' words, counted, as the vocabulary spells them


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tokens_cache_dir() -> Path:
    return Path(user_cache_dir("alice")) / "tokens"


def count_chars(text: str) -> Counter:
    """Character counts without a Python loop per character."""
    counts: Counter = Counter()
    for start in range(0, len(text), CHUNK_CHARS):
        codes = np.frombuffer(text[start:start + CHUNK_CHARS].encode("utf-32-le"), dtype=np.uint32)
        uniques, n = np.unique(codes, return_counts=True)
        counts.update({chr(c): int(k) for c, k in zip(uniques, n, strict=True)})
    return counts


@dataclass(frozen=True)
class CorpusRules:
    """How books become ids: case, which characters get ids, the held-out share, the shortest book."""

    lowercase: bool
    min_char_count: int  # rarer characters fold into the unknown symbol
    val_frac: float  # the held-out tail of each book
    min_chars: int  # a book shorter than this once cleaned is refused


def prepare_corpus(specs: list[str], rules: CorpusRules, cache_dir: Path | None = None,
                   base_vocab: Vocab | None = None) -> PreparedCorpus:
    """Resolve, clean and tokenise the books (or reuse the cached ids). Raises CorpusError.

    With `base_vocab` (fine-tuning) every id of the base stays as it is and the frequent characters
    it lacks are appended; case follows the base."""
    lowercase, min_char_count, val_frac, min_chars = rules.lowercase, rules.min_char_count, rules.val_frac, \
        rules.min_chars
    paths = [resolve_source(spec) for spec in specs]
    for spec, path in zip(specs, paths, strict=True):
        if not path.is_file():
            read_book(spec)  # raises the reader's one-line error (missing, a directory, ...)
    hashes = [file_sha256(p) for p in paths]
    if base_vocab is not None:
        lowercase = base_vocab.lowercase
    key = [TOKENS_VERSION, hashes, lowercase, min_char_count, val_frac]
    key_source = json.dumps(key if base_vocab is None else [*key, base_vocab.chars])
    folder = (cache_dir or tokens_cache_dir()) / hashlib.sha256(key_source.encode()).hexdigest()[:24]
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        try:
            return _load_cached(folder, meta_path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is rebuilt below
    started = time.perf_counter()
    books = read_books(specs, lowercase=lowercase, min_chars=min_chars)
    counts: Counter = Counter()
    for book in books:
        counts.update(count_chars(book.text))
    notes = [note for book in books for note in book.notes]
    if base_vocab is None:
        vocab = Vocab.from_counts(counts, lowercase=lowercase, min_count=min_char_count)
    else:
        vocab, new = extend_vocab(base_vocab, counts, min_char_count)
        if new:
            notes.append(f"{len(new)} characters new to the base model get rows of their own: {''.join(new)!r}")
    lexicon = text_lexicon([b.text for b in books], vocab)
    heads, tails = split_texts([b.text for b in books], val_frac)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / LEXICON, lexicon.to_text().encode())
    train_ids = write_ids(folder / "train.ids", heads, vocab)
    val_ids = write_ids(folder / "val.ids", tails, vocab)
    kept = set(vocab.chars)
    rare = sum(n for ch, n in counts.items() if ch not in kept)
    notes.append(f"{sum(len(b.text) for b in books):,} characters kept, {len(vocab)} symbols "
                 f"({rare} rare characters folded into the unknown symbol)")
    info = {
        "name": " + ".join(book.name for book in books),
        "sha256": hashes[0] if len(hashes) == 1 else hashlib.sha256("".join(hashes).encode()).hexdigest(),
        "chars": sum(len(b.text) for b in books),
        "books": [{"name": spec, "sha256": h, "chars": len(b.text)}
                  for spec, h, b in zip(specs, hashes, books, strict=True)],
    }
    meta = {"vocab": vocab.to_json(), "info": info, "notes": notes, "train": len(train_ids), "val": len(val_ids)}
    write_atomic(meta_path, json.dumps(meta, ensure_ascii=False).encode())  # last: it marks the entry complete
    notes.append(f"tokenised in {time.perf_counter() - started:.1f} s into {folder}")  # this run only
    return PreparedCorpus(vocab, train_ids, val_ids, info, notes, lexicon)


def _load_cached(folder: Path, meta_path: Path) -> PreparedCorpus:
    meta = json.loads(meta_path.read_text())
    vocab = Vocab.from_json(meta["vocab"])
    dtype = id_dtype(len(vocab))
    train_ids = np.memmap(folder / "train.ids", dtype=dtype, mode="r", shape=(meta["train"],))
    val_ids = np.memmap(folder / "val.ids", dtype=dtype, mode="r", shape=(meta["val"],))
    lexicon = Lexicon.read(folder / LEXICON)  # an entry from before lexicons: LexiconError, and it is rebuilt
    return PreparedCorpus(vocab, train_ids, val_ids, meta["info"], [*meta["notes"], "token ids reused from cache"],
                          lexicon)
