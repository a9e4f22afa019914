"""`python -m train.casing MODEL_DIR [--add FILE ...] [--replace]`: a model's casing record (casing.txt).

Without --add, casing.txt is rebuilt the way training writes it: from the printed (not lowercased)
text of the books config.json records (paths as given at training, from the current folder), over
the record of the model it was fine-tuned from: where the book prints a word, a pair or a start, its
way wins; the base's fills in the rest. With --add, the casing of each FILE is learnt instead of the
recorded books' (over the base's, or with --replace over none). The format: engine/casing.py.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from engine.casing import CASING, Casing, CasingError, read_casing, vocab_digest
from engine.lexicon import WORD
from engine.modelfolder import ModelFolderError, read_model_info, resolve_model_dir, write_atomic
from engine.scanner import LEARNT, MID, Scanner, key_of
from engine.vocab import Vocab
from train.corpus import read_book
from train.gutenberg import CorpusError
from train.lexicon import recorded_books

MIN_WORD = 3  # across a library, a word's spelling is kept when seen this often (a book's: from once)
MIN_PAIR = 3  # a pair is kept when seen this often and printed otherwise than its word alone...
PAIR_SHARE = 0.7  # ...in at least this share of its sightings
MIN_START = 3  # the same for a word's capital after a quote or at a verse line's start
MAX_NAME_BOOKS = 4  # names are learnt from a model's own few books: read across a library they name too much
MIN_NAME = 8  # two words after which a word is a name this often...
NAME_SHARE = 0.8  # ...in at least this share of their sightings
MIN_CLASS = 30  # a class's majority counts once this many words were seen in it


class CasingCounts:
    """How printed text cases each word in each context, counted (before any pruning)."""

    def __init__(self) -> None:
        self.texts = 0
        self.words: defaultdict[str, Counter] = defaultdict(Counter)
        self.pairs: defaultdict[tuple[str, str], Counter] = defaultdict(Counter)
        self.starts: defaultdict[tuple[str, str], Counter] = defaultdict(Counter)
        self.names: defaultdict[tuple[str, str], Counter] = defaultdict(Counter)

    def read(self, text: str) -> CasingCounts:
        """Count the words of printed (normalised, not lowercased) `text`."""
        scanner, at = Scanner(), 0
        self.texts += 1
        words, pairs, starts, names = self.words, self.pairs, self.starts, self.names
        for match in WORD.finditer(text):
            word = match.group()
            kind, prev, prev2 = scanner.step(text[at:match.start()], word)
            at = match.end()
            if kind == MID:
                spelling = word.replace("\u2019", "'")
                key = spelling.lower()
                words[key][spelling] += 1
                pairs[(prev, key)][spelling] += 1
                names[(prev2, prev)][word[:1].isupper()] += 1
            elif kind in LEARNT:
                starts[(kind, key_of(word))][word[:1].isupper()] += 1
        return self

    def record(self, vocab: str, base: Casing | None = None) -> Casing:
        """The record: this text's ways, pruned to what differs from the default, over `base`'s."""
        base = base or Casing()
        record = Casing(vocab=vocab)
        for key, forms in self.words.items():
            spelling, n = forms.most_common(1)[0]
            if spelling != key and (n >= MIN_WORD or self.texts <= MAX_NAME_BOOKS):
                record.words[key] = (spelling, n, sum(forms.values()))
        record.words.update({k: v for k, v in base.words.items() if k not in self.words})
        for (prev, key), forms in self.pairs.items():
            spelling, n = forms.most_common(1)[0]
            seen = sum(forms.values())
            alone = record.words.get(key, (key,))[0]
            if spelling != alone and seen >= MIN_PAIR and n >= PAIR_SHARE * seen:
                record.pairs[(prev, key)] = (spelling, n, seen)
        record.pairs.update({pk: v for pk, v in base.pairs.items() if pk[1] not in self.words and pk not in self.pairs})
        self._starts(record, base)
        for context, caps in self.names.items() if self.texts <= MAX_NAME_BOOKS else ():
            seen = sum(caps.values())
            if seen >= MIN_NAME and caps[True] >= NAME_SHARE * seen and all(context) and context[1] not in record.words:
                record.names[context] = (caps[True], seen)  # not after a title ("miss", "sir"): "to miss the train"
        return record  # a base's names are not inherited: read across many books they name too much

    def _starts(self, record: Casing, base: Casing) -> None:
        """Each learnt class's majority (over words printed lowercase mid-sentence), and its exceptions."""
        plain: dict[str, Counter] = {kind: Counter() for kind in LEARNT}
        for (kind, key), caps in self.starts.items():
            if record.words.get(key, (key,))[0][:1].islower() and key != "i":
                plain[kind].update(caps)
        for kind in LEARNT:
            seen = sum(plain[kind].values())
            if seen >= MIN_CLASS:
                record.classes[kind] = (plain[kind][True] > plain[kind][False], seen)
            elif kind in base.classes:
                record.classes[kind] = base.classes[kind]
        for (kind, key), caps in self.starts.items():
            cap, n = caps.most_common(1)[0]
            seen = sum(caps.values())
            usual = record.classes.get(kind, (False, 0))[0]
            if cap != usual and seen >= MIN_START and n >= PAIR_SHARE * seen:
                record.starts[(kind, key)] = (cap, n, seen)
        record.starts.update({ck: v for ck, v in base.starts.items() if ck not in self.starts})


def texts_casing(texts: Iterable[str], vocab: Vocab, base: Casing | None = None) -> Casing:
    """The record of printed texts (normalised, not lowercased) for a model of `vocab`, over `base`'s."""
    counts = CasingCounts()
    for text in texts:
        counts.read(text)
    return counts.record(vocab_digest(vocab.chars), base)


def books_casing(specs: list[str], vocab: Vocab, base: Casing | None = None) -> Casing:
    """The record of books (files or gutenberg:N), read and cleaned as training reads them, not lowercased."""
    return texts_casing((read_book(spec, lowercase=False, min_chars=1).text for spec in specs), vocab, base)


def base_casing(config: dict, vocab: Vocab) -> Casing | None:
    """The record of the model this one was fine-tuned from, re-keyed to `vocab` (None: none, or not here)."""
    base = config.get("base")
    if not isinstance(base, dict):
        return None
    for place in (base.get("path"), base.get("name")):
        if not place:
            continue
        folder = resolve_model_dir(str(place))
        try:
            base_vocab, _ = read_model_info(folder)
        except ModelFolderError:
            continue
        record, _ = read_casing(folder, base_vocab.chars)
        if record is not None:
            record.vocab = vocab_digest(vocab.chars)
            return record
    return None


def rebuild(folder: Path, vocab: Vocab, config: dict) -> Casing:
    """The record training would write: its books' casing over its base's."""
    books = recorded_books(config)
    if not books:
        raise ValueError(f"{folder}: config.json records no training books; give the text with --add FILE")
    try:
        return books_casing(books, vocab, base_casing(config, vocab))
    except CorpusError as exc:
        raise ValueError(f"{exc} (a book config.json records: run from the folder training ran in, or give "
                         f"the text with --add FILE)") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.casing", description=__doc__.splitlines()[0],
                                     epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="model folder (or a bundled model's name)")
    parser.add_argument("--add", nargs="+", default=[], metavar="FILE", help="printed texts to learn the casing of")
    parser.add_argument("--replace", action="store_true", help="with --add: learn over no base record")
    args = parser.parse_args(argv)
    if args.replace and not args.add:
        parser.error("--replace needs --add FILE")
    folder = resolve_model_dir(args.model_dir)
    try:
        vocab, config = read_model_info(folder)
        if args.add:
            record = books_casing(args.add, vocab, None if args.replace else base_casing(config, vocab))
        else:
            record = rebuild(folder, vocab, config)
        data = record.to_text().encode()
        write_atomic(folder / CASING, data)
    except (ModelFolderError, CorpusError, CasingError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{folder / CASING}: {len(record.words):,} words, {len(record.pairs):,} pairs, "
          f"{len(record.starts):,} starts, {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
