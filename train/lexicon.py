"""`python -m train.lexicon MODEL_DIR [--add FILE ...] [--min-count N] [--replace]`: a model's lexicon.

Without --add, lexicon.txt is rebuilt the way training writes it: the words of the books config.json
records (paths as given at training, from the current folder), plus the lexicon of the model it was
fine-tuned from. With --add, the words of each FILE (a book, gutenberg:N, any text, or a word list,
one word a line) are added to the folder's lexicon (counts add up), or with --replace to an empty
one. --min-count keeps, of the words read now, those seen at least N times (the lexicon they join
is kept whole). Words are spelled as the model's vocabulary writes them (see engine/lexicon.py).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from engine.lexicon import LEXICON, WORD, Lexicon, LexiconError
from engine.modelfolder import ModelFolderError, read_lexicon, read_model_info, resolve_model_dir, write_atomic
from engine.vocab import Vocab
from train.corpus import read_book
from train.gutenberg import CorpusError


def text_lexicon(texts: Iterable[str], vocab: Vocab) -> Lexicon:
    """The words of already-normalised texts, counted and spelled as `vocab` writes them."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(WORD.findall(text))
    return Lexicon(dict(counts)).respelled(vocab)


def books_lexicon(specs: list[str], vocab: Vocab) -> Lexicon:
    """The words of books (files or gutenberg:N), read and cleaned as training reads them."""
    return text_lexicon((read_book(spec, lowercase=vocab.lowercase, min_chars=1).text for spec in specs), vocab)


def recorded_books(config: dict) -> list[str]:
    """The books a model was trained on, as config.json records them."""
    books = (config.get("training") or {}).get("books")
    if not books:
        books = [b.get("name") for b in (config.get("corpus") or {}).get("books", []) if isinstance(b, dict)]
    return [str(b) for b in books if b]


def base_lexicon(config: dict) -> Lexicon | None:
    """The lexicon of the model this one was fine-tuned from (None: trained from scratch, or the base
    has no lexicon or is not here). Its recorded path first, else a bundled model of its name."""
    base = config.get("base")
    if not isinstance(base, dict):
        return None
    for place in (base.get("path"), base.get("name")):
        if place and (resolve_model_dir(str(place)) / LEXICON).is_file():
            return read_lexicon(resolve_model_dir(str(place)))
    return None


def rebuild(folder: Path, vocab: Vocab, config: dict, min_count: int) -> Lexicon:
    """The lexicon training would write: its books' words (`min_count` or more) and its base's."""
    books = recorded_books(config)
    if not books:
        raise ValueError(f"{folder}: config.json records no training books; give the text with --add FILE")
    try:
        words = books_lexicon(books, vocab)
    except CorpusError as exc:
        raise ValueError(f"{exc} (a book config.json records: run from the folder training ran in, or give "
                         f"the text with --replace --add FILE)") from None
    return words.at_least(min_count).union(base_lexicon(config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.lexicon", description=__doc__.splitlines()[0],
                                     epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model folder (or a bundled model's name)")
    parser.add_argument("--add", nargs="+", default=[], metavar="FILE", help="texts or word lists to add")
    parser.add_argument("--min-count", type=int, default=1, metavar="N",
                        help="keep words read now only if seen N times or more (default 1: all)")
    parser.add_argument("--replace", action="store_true", help="with --add: start from an empty lexicon")
    args = parser.parse_args(argv)
    if args.min_count < 1:
        parser.error("--min-count must be at least 1")
    if args.replace and not args.add:
        parser.error("--replace needs --add FILE (without --add the lexicon is rebuilt from the training books)")
    folder = resolve_model_dir(args.model_dir)
    try:
        vocab, config = read_model_info(folder)
        old = read_lexicon(folder) or Lexicon()
        if args.add:
            start = Lexicon() if args.replace else old
            lexicon = start.union(books_lexicon(args.add, vocab).at_least(args.min_count))
        else:
            lexicon = rebuild(folder, vocab, config, args.min_count)
        data = lexicon.to_text().encode()
        write_atomic(folder / LEXICON, data)
    except (ModelFolderError, CorpusError, LexiconError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    added = len(set(lexicon.counts) - set(old.counts))
    print(f"{folder / LEXICON}: {len(lexicon):,} words ({added:,} new), {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
