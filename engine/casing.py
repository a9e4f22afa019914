"""Printed case: a model's casing record (casing.txt), and the re-caser that streams text in the book's case.

The models read and write lowercase. What they write is shown as the book prints it: every word is
cased by what stands before it (never after: a stream holds back at most the word being written).
A word's context is its class (see engine/scanner.py) and the word before it:
- PARA (the text's or a paragraph's start) and SENTENCE (after . ! ? and white space, an opening
  quote or bracket may follow; after `.”`) capitalise the word's first letter;
- OPEN (after an opening quote inside a sentence: `alice said, “why`), RESUMED (the same after a
  quote closed mid-sentence: `“well,” said alice, “why`), QUOTED (after `!”` or `?”`:
  `late!” said` or `late!” The`) and LINE (after a line shorter than VERSE_LINE
  that ended no sentence, itself under a short or blank line: verse) capitalise by what the book did
  there: per word where it says, else by the class's majority;
- then (and in MID, everywhere else) the word is spelled as the book prints it after the word
  before it (`pairs`), else as the book prints it mid-sentence (`words`), else lowercase; "i" and
  its contractions are "I" even without a record.
The record is casing.txt, plain UTF-8 text: `#` comments, then one row a line, fields split by
single spaces (keys are lowercase, ’ written '):
  `vocab SHA`                        the sha256 (first 16 hex) of the vocab's characters it was made for
  `class NAME CAP SEEN`              a class's majority: CAP 1 (capitalise) or 0, of SEEN words
  `word KEY SPELLING N SEEN`         KEY printed SPELLING N of SEEN times mid-sentence
  `pair PREV KEY SPELLING N SEEN`    the same after the word PREV, where it differs from `word`
  `start CLASS KEY CAP N SEEN`       in CLASS, KEY capitalised (CAP 1) or not, where it differs from `class`
  `name PREV2 PREV N SEEN`           after these two words a word is a name (capitalised N of SEEN times):
                                     one with no `word` row is capitalised, and so is every later one of it
A word's SPELLING is its case pattern: letters upper or lower as printed, the rest as KEY has it.
Training writes it (train/casing.py); `python -m train.casing DIR` rebuilds it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.lexicon import LETTER, WORD
from engine.scanner import LEARNT, OPEN, PARA, SENTENCE, Scanner, key_of

CASING = "casing.txt"
CASING_MAX_BYTES = 4 * 2**20  # far above the bundled records (a few hundred KB); a bigger file is not read
CONTEXT = 300  # characters of what came before a stream that set its first words' context
# a word still being written: letters, inner joins, perhaps a join not yet followed by its letter
_PARTIAL = re.compile(rf"{LETTER.pattern}+(?:['\u2019-]{LETTER.pattern}+)*['\u2019-]?$")
HEADER = ("# alice casing: how the book prints each word, by what stands before it (engine/casing.py says\n"
          "# how it is read). Made by training from the printed text; `python -m train.casing DIR` rebuilds it.\n")


class CasingError(ValueError):
    """casing.txt cannot be used; the message is one line naming the file and why."""


def vocab_digest(chars: list[str]) -> str:
    """What a record names its vocabulary by: the first 16 hex of the sha256 of its characters."""
    return hashlib.sha256(json.dumps(chars, ensure_ascii=False).encode()).hexdigest()[:16]


def spell(word: str, pattern: str) -> str:
    """`word` in `pattern`'s case, letter by letter (a letter whose capital is two letters stays)."""
    if len(pattern) != len(word):
        return word
    return "".join(c.upper() if p.isupper() and len(c.upper()) == 1 else c for c, p in zip(word, pattern, strict=True))


def capitalised(word: str) -> str:
    """`word` with its first letter a capital (as far as the letter has one of its own)."""
    first = word[:1].upper()
    return (first if len(first) == 1 else word[:1]) + word[1:]


def _is_i(key: str) -> bool:
    return key == "i" or key[:2] == "i'" and key[2:] in ("m", "ll", "d", "ve")


@dataclass
class Casing:
    """A casing record: see the module docstring. Counts come along so that records can be merged."""

    vocab: str = ""
    classes: dict[str, tuple[bool, int]] = field(default_factory=dict)  # class -> (capitalise, seen)
    words: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # key -> (spelling, n, seen)
    pairs: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)  # (prev, key) -> ...
    starts: dict[tuple[str, str], tuple[bool, int, int]] = field(default_factory=dict)  # (class, key) -> ...
    names: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (prev2, prev) -> (n, seen)

    def __len__(self) -> int:
        return len(self.words) + len(self.pairs) + len(self.starts) + len(self.names)

    def case(self, word: str, kind: str, prev: str, prev2: str = "", named: set[str] | None = None) -> str:
        """`word` (as written) as the book prints it in class `kind` after the words keyed `prev2 prev`.
        `named`: the words a stream took for names so far (after `said the`, ...), added to."""
        key = key_of(word)
        entry = self.pairs.get((prev, key)) or self.words.get(key)
        if entry is None and key.endswith(("'s", "s'")):  # "alice's": as "alice"
            first = self.words.get(key[:-2]) or self.words.get(key[:-1])
            entry = (first[0] + key[len(first[0]):], 0, 0) if first else None
        out = spell(word, entry[0]) if entry else word
        if entry is None and named is not None and (key in named or (prev2, prev) in self.names) and not _is_i(key):
            named.add(key)
            out = capitalised(out)
        if _is_i(key):
            out = capitalised(out)
        if kind in (PARA, SENTENCE):
            return capitalised(out)
        if kind in LEARNT:
            start = self.starts.get((kind, key))
            cap = start[0] if start else self.classes.get(kind, (kind == OPEN, 0))[0]
            return capitalised(out) if cap else out
        return out

    def to_text(self) -> str:
        rows = [HEADER, f"vocab {self.vocab}\n"]
        rows += [f"class {k} {int(cap)} {seen}\n" for k, (cap, seen) in sorted(self.classes.items())]
        rows += [f"word {k} {s} {n} {seen}\n" for k, (s, n, seen) in sorted(self.words.items())]
        rows += [f"pair {p} {k} {s} {n} {seen}\n" for (p, k), (s, n, seen) in sorted(self.pairs.items())]
        rows += [f"start {c} {k} {int(cap)} {n} {seen}\n" for (c, k), (cap, n, seen) in sorted(self.starts.items())]
        rows += [f"name {p2} {p} {n} {seen}\n" for (p2, p), (n, seen) in sorted(self.names.items())]
        return "".join(rows)

    @classmethod
    def parse(cls, text: str, source: str = CASING) -> Casing:
        """The record `to_text` writes; CasingError names `source` and the first bad line."""
        # Ten thousand rows of new tuples set off the cyclic collector over the whole heap (torch's
        # included) again and again: 180 ms instead of 27 on the way to the first character. None of
        # these objects can form a cycle, so it waits until the record is read.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return cls._parse(text, source)
        finally:
            if enabled:
                gc.enable()

    @classmethod
    def _parse(cls, text: str, source: str) -> Casing:
        record = cls()
        words, pairs = record.words, record.pairs
        for number, line in enumerate(text.splitlines(), start=1):
            if not line or line[0] == "#" or line.isspace():
                continue
            parts = line.split(" ")
            try:  # word and pair rows, nearly all of them, read here: loading is on the way to the first character
                if parts[0] == "word" and len(parts) == 5 and key_of(parts[2]) == parts[1]:
                    words[parts[1]] = (parts[2], int(parts[3]), int(parts[4]))
                elif parts[0] == "pair" and len(parts) == 6 and key_of(parts[3]) == parts[2]:
                    pairs[(parts[1], parts[2])] = (parts[3], int(parts[4]), int(parts[5]))
                else:
                    record._add(parts)  # the other rows, and every bad one
            except (ValueError, IndexError):
                raise CasingError(f"{source}: line {number} is not a casing row ({line[:60]!r})") from None
        return record

    def _add(self, parts: list[str]) -> None:
        kind, size = parts[0], {"vocab": 2, "class": 4, "word": 5, "pair": 6, "start": 6, "name": 5}.get(parts[0])
        if len(parts) != size:
            raise ValueError(kind)
        if kind == "vocab":
            self.vocab = parts[1]
            return
        counts = [int(x) for x in parts[-2:]]
        if kind == "name":
            if not all(WORD.fullmatch(k) and k == key_of(k) for k in parts[1:3]):
                raise ValueError(kind)
            self.names[(parts[1], parts[2])] = (counts[0], counts[1])
            return
        if kind == "class":
            if parts[1] not in LEARNT or parts[2] not in "01":
                raise ValueError(kind)
            self.classes[parts[1]] = (parts[2] == "1", int(parts[3]))
            return
        *keys, value = parts[1:-2]
        if any(not WORD.fullmatch(k) or k != key_of(k) for k in keys[-1:]) or (
                kind != "start" and (key_of(value) != keys[-1])):
            raise ValueError(kind)
        if kind == "word":
            self.words[keys[0]] = (value, *counts)
        elif kind == "pair":
            self.pairs[(keys[0], keys[1])] = (value, *counts)
        elif keys[0] in LEARNT and value in "01":
            self.starts[(keys[0], keys[1])] = (value == "1", *counts)
        else:
            raise ValueError(kind)


def read_casing(directory: Path, vocab_chars: list[str]) -> tuple[Casing | None, str]:
    """A folder's record and "", or None and one line saying why there is none to use (missing,
    too big, damaged, made for another vocabulary): the stream then cases sentence starts and "I" only."""
    path = Path(directory) / CASING
    try:
        size = path.stat().st_size
    except OSError:
        return None, f"{CASING} is missing: sentence starts and I only"
    if size > CASING_MAX_BYTES:
        return None, f"{path}: {size / 2**20:.1f} MB, over {CASING_MAX_BYTES // 2**20} MB; sentence starts and I only"
    try:
        record = Casing.parse(path.read_text(encoding="utf-8-sig"), str(path))
    except UnicodeDecodeError:
        return None, f"{path}: not UTF-8 text; sentence starts and I only"
    except OSError as exc:
        return None, f"{path}: unreadable ({exc.strerror or exc}); sentence starts and I only"
    except CasingError as exc:
        return None, f"{exc}; sentence starts and I only"
    if record.vocab != vocab_digest(vocab_chars):
        return None, f"{path}: made for another model (vocab {record.vocab or 'unnamed'}); sentence starts and I only"
    return record, ""


class Recaser:
    """Streams text in the book's case: `feed` takes what was written and gives back what can be shown
    (all but the word being written), `finish` the rest. `prime` first with what came before (shown
    as it is): its last word, if the stream goes on writing it, is cased whole but not shown again."""

    def __init__(self, casing: Casing | None) -> None:
        self.casing = casing or Casing()
        self.scanner = Scanner()
        self.held = ""  # the end of what was written: a word perhaps not finished
        self.named: set[str] = set()  # words this stream took for names (see Casing.case)
        self.shown = 0  # characters of `held` shown already (a word the seed began)

    def prime(self, context: str) -> None:
        context = context[-CONTEXT:]
        tail = _PARTIAL.search(context)
        cut = tail.start() if tail else len(context)
        self._walk(context[:cut], emit=False)
        self.held, self.shown = context[cut:], len(context) - cut

    def feed(self, text: str) -> str:
        held = self.held + text
        tail = _PARTIAL.search(held)
        cut = tail.start() if tail else len(held)
        if cut == 0:
            self.held = held
            return ""
        shown, self.shown = self.shown, 0
        self.held = held[cut:]
        return self._walk(held[:cut], emit=True)[shown:]

    def finish(self) -> str:
        held, self.held = self.held, ""
        shown, self.shown = self.shown, 0
        return self._walk(held, emit=True)[shown:]

    def _walk(self, text: str, emit: bool) -> str:
        out, at = [], 0
        for match in WORD.finditer(text):
            gap, word = text[at:match.start()], match.group()
            kind, prev, prev2 = self.scanner.step(gap, word)
            if emit:
                out += [gap, self.casing.case(word, kind, prev, prev2, self.named)]
            at = match.end()
        self.scanner.skip(text[at:])
        if emit:
            out.append(text[at:])
        return "".join(out)


def recase(text: str, casing: Casing | None, context: str = "") -> str:
    """`text` as a stream shows it (lowercase in, the book's case out) after `context`."""
    recaser = Recaser(casing)
    if context:
        recaser.prime(context)
    return recaser.feed(text) + recaser.finish()


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.casing MODEL_DIR FILE`: FILE lowercased as the model reads it, then re-cased as
    a stream shows it (by the folder's casing.txt), on stdout."""
    import argparse
    import sys

    from engine.vocab import Vocab, VocabError

    parser = argparse.ArgumentParser(prog="python -m engine.casing", description=main.__doc__.split(":")[1].strip())
    parser.add_argument("model_dir", help="model folder (or a bundled model's name)")
    parser.add_argument("file", help="a UTF-8 text file; - reads stdin")
    args = parser.parse_args(argv)
    folder = Path(args.model_dir).expanduser()
    if not folder.exists() and (Path(__file__).parent / "models" / args.model_dir).is_dir():
        folder = Path(__file__).parent / "models" / args.model_dir  # a bundled model's name
    try:
        vocab = Vocab.from_json(json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, ValueError, VocabError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    casing, note = read_casing(folder, vocab.chars)
    if note:
        print(note, file=sys.stderr)
    sys.stdout.write(recase(vocab.normalize(text), casing) if vocab.lowercase else vocab.normalize(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
