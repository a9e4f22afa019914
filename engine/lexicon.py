"""The words a model may write: its lexicon (lexicon.txt), and the guide that keeps sampling on them.

lexicon.txt is plain UTF-8 text: `#` comment lines, then one `word count` a line, most frequent
first. A word is letters with inner apostrophes (' or ’) and hyphens ("rabbit-hole", "don’t"),
spelled as the model's vocabulary writes it (lowercase for a lowercase model); digits and other
marks separate words. Scripts written without spaces between words (Han, kana, Thai, see UNSPACED)
have no words here: their characters count as marks, and guided rows write them freely.

The guide (`WordGuide`) is that lexicon compiled against one vocabulary into two tables, so that
guided sampling costs one lookup per row per step: `mask[state]` (bool [states, vocab]) says which
characters may come next, `trans[state, cls[id]]` (int32) is the state after writing `id`. The
states are the nodes of a minimised trie of the words (case folded, ’ read as '), plus BETWEEN
(between words), FREE (inside a word the lexicon lacks: anything goes until the word ends), CLOSED
(just after a closing apostrophe: a letter may not follow) and OFF (a row that writes freely: it
shares the batch's lookups and never leaves OFF). A hyphen splits a word into
parts that are checked one by one, so "rabbit-hole" and "mad-tea" both pass: each part is a known
part, and a part only ever seen before a hyphen ("co" of "co-operate") may not end a word.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.trie import build_trie, minimise
from engine.vocab import Vocab

LEXICON = "lexicon.txt"
# The guide's build grows with the lexicon's size (tables per trie node); past this a model loads without
# one and writes freely. Far above any book's lexicon (the bundled ones: a third of a MB); bench/lexicon_size.py.
GUIDE_MAX_BYTES = 4 * 2**20
# Scripts written without spaces between words (Han, kana, bopomofo, Thai, Lao, Tibetan, Myanmar, Khmer):
# a run of them is a clause, not a word, so they are no letters here. They stand outside every word
# like marks do, and between words every one of them may come: guided rows write them freely.
UNSPACED = ("\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\u3005-\u3007\u3021-\u3029"
            "\u3031-\u3035\u3038-\u303c\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
            "\ua9e0-\ua9ff\uaa60-\uaa7f\uf900-\ufaff\uff66-\uff9f\U00016fe0-\U00016fff\U0001b000-\U0001b16f"
            "\U00020000-\U0003134f")
_LETTER = rf"[^\W\d_{UNSPACED}]"
WORD = re.compile(rf"{_LETTER}+(?:['\u2019-]{_LETTER}+)*")  # letters, inner apostrophes and hyphens
LETTER = re.compile(_LETTER)
UNSPACED_CHAR = re.compile(f"[{UNSPACED}]")
_ROW = re.compile(rf"^({WORD.pattern}) ([0-9]+)$", re.MULTILINE)  # one line as `Lexicon.to_text` writes it
HEADER = ("# alice lexicon: the words of the text this model learnt, one `word count` a line, most frequent\n"
          "# first. A word is letters with inner apostrophes (' or \u2019) and hyphens, spelled as the\n"
          "# model's vocabulary writes it. Made by training; `python -m train.lexicon DIR` rebuilds or extends it.\n")


class LexiconError(ValueError):
    """lexicon.txt cannot be read; the message is one line naming the file and the line."""


@dataclass
class Lexicon:
    """Words and how often each was seen."""

    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.counts)

    def __contains__(self, word: str) -> bool:
        return word in self.counts

    def respelled(self, vocab: Vocab) -> Lexicon:
        """The words as `vocab` writes them (look-alikes folded, case as the vocab keeps it); words
        with a character the vocab cannot write are dropped, words that become one are merged."""
        counts: Counter = Counter()
        for word, count in self.counts.items():
            ids = vocab.encode(vocab.normalize(word))
            spelled = vocab.decode(ids)
            if vocab.unknown_id not in ids and WORD.fullmatch(spelled):
                counts[spelled] += count
        return Lexicon(dict(counts))

    def union(self, other: Lexicon | None) -> Lexicon:
        """Both lexicons' words, counts added."""
        counts = Counter(self.counts)
        counts.update(other.counts if other is not None else {})
        return Lexicon(dict(counts))

    def at_least(self, min_count: int) -> Lexicon:
        """Only the words seen `min_count` times or more."""
        return Lexicon({w: n for w, n in self.counts.items() if n >= min_count})

    def to_text(self) -> str:
        rows = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return HEADER + "".join(f"{word} {count}\n" for word, count in rows)

    @classmethod
    def parse(cls, text: str, source: str = LEXICON) -> Lexicon:
        """The lexicon written by `to_text`; LexiconError names `source` and the first bad line."""
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        rows = _ROW.findall(text)  # every line as `to_text` writes it, in one pass (half the time)
        if len(rows) == len(lines) and all(count[0] != "0" for _, count in rows):
            counts: dict[str, int] = {}
            for word, count in rows:
                counts[word] = counts.get(word, 0) + int(count)
            return cls(counts)
        counts = {}  # written by hand: spaces, tabs, or a bad line to name
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split()
            count = parts[1] if len(parts) == 2 and parts[1].isascii() and parts[1].isdigit() else "0"
            if int(count) > 0 and UNSPACED_CHAR.search(parts[0]):
                continue  # a clause an older training wrote as a word (see UNSPACED): left out
            if len(parts) != 2 or not WORD.fullmatch(parts[0]) or int(count) < 1:
                raise LexiconError(f"{source}: line {number} is not `word count` ({line[:60]!r})")
            counts[parts[0]] = counts.get(parts[0], 0) + int(count)
        return cls(counts)

    @classmethod
    def read(cls, path: Path) -> Lexicon:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")  # a BOM from a text editor is no word
        except UnicodeDecodeError:
            raise LexiconError(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise LexiconError(f"{path}: unreadable ({exc.strerror or exc})") from None
        return cls.parse(text, str(path))


# Guide states with fixed numbers; the trie's nodes follow them.
BETWEEN, FREE, CLOSED, OFF = 0, 1, 2, 3  # OFF: a row not kept to the lexicon (everything allowed, for good)
# Character classes: every vocab id has one; letters of the lexicon get one each, from FIRST_LETTER on.
OTHER, APOSTROPHE, HYPHEN, STRANGER, FIRST_LETTER = 0, 1, 2, 3, 4  # STRANGER: a letter no word has
END, JOIN = 1, 2  # trie node flags: a word may end here / a hyphen may follow
SEED_WINDOW = 64  # the seed characters read to find where its last word stands


def fold(ch: str) -> str:
    """A character as the lexicon's trie reads it: lowercase, the curly apostrophe as the straight one."""
    low = ch.lower()
    ch = low if len(low) == 1 else ch
    return "'" if ch == "\u2019" else ch


@dataclass
class WordGuide:
    """A lexicon compiled for one vocabulary (see the module docstring). Build with `WordGuide.build`."""

    mask: np.ndarray  # bool [states, vocab]: the characters allowed next in each state
    trans: np.ndarray  # int32 [states, classes]: the state after a character of each class
    cls: np.ndarray  # int64 [vocab]: each character's class
    words: int  # lexicon words (parts) in the trie

    @classmethod
    def build(cls, lexicon: Lexicon, vocab: Vocab) -> WordGuide:
        keys = _trie_keys(lexicon, vocab)
        letters = sorted(set("".join(keys)) - {"'", "-"})
        alphabet = {ch: i for i, ch in enumerate(letters, start=FIRST_LETTER)}
        code = {**alphabet, "'": APOSTROPHE}
        pieces: dict[str, int] = {}  # each hyphen-free part: may it end a word, may a hyphen follow it
        for key in keys:
            *joined, last = key.split("-")
            for piece in joined:
                pieces[piece] = pieces.get(piece, 0) | JOIN
            pieces[last] = pieces.get(last, 0) | END
        words = sorted(pieces)
        children, flags = build_trie(words, [pieces[w] for w in words], code, FIRST_LETTER + len(alphabet))
        return cls._tables(children, flags, minimise(children, flags), alphabet, vocab, len(words))

    @classmethod
    def _tables(cls, children: np.ndarray, flags: np.ndarray, canon: np.ndarray, alphabet: dict[str, int],
                vocab: Vocab, words: int) -> WordGuide:
        kept = np.unique(canon)  # the nodes that stand for their class; the root (0) first
        state = np.full(len(children), -1, dtype=np.int64)  # the root becomes BETWEEN, the others follow OFF
        state[kept] = np.concatenate([[BETWEEN], np.arange(OFF + 1, OFF + len(kept))])
        states = OFF + len(kept)
        flag = np.zeros(states, dtype=np.int64)
        flag[state[kept]] = flags[kept]
        end, join = (flag & END) > 0, (flag & JOIN) > 0
        end[BETWEEN] = join[BETWEEN] = True  # between words every mark may come
        trans = np.full((states, children.shape[1]), FREE, dtype=np.int32)
        ok = np.zeros(trans.shape, dtype=bool)
        trans[:, [OTHER, HYPHEN]] = BETWEEN  # a mark ends the word, known or not...
        ok[:, OTHER], ok[:, HYPHEN] = end, end | join  # ...but only a known one may be ended on purpose
        trans[end, APOSTROPHE], ok[end, APOSTROPHE] = CLOSED, True  # a closing quote after a word
        trans[BETWEEN, APOSTROPHE] = BETWEEN  # an opening quote
        nodes, ks = np.nonzero(children[kept] >= 0)
        rows = state[kept[nodes]]
        trans[rows, ks], ok[rows, ks] = state[canon[children[kept[nodes], ks]]], True
        trans[FREE], ok[FREE] = FREE, True
        trans[FREE, [OTHER, HYPHEN]] = BETWEEN
        trans[CLOSED], ok[CLOSED] = BETWEEN, True
        trans[CLOSED, STRANGER:], ok[CLOSED, STRANGER:] = FREE, False  # no letter right after a closing quote
        trans[CLOSED, APOSTROPHE] = CLOSED
        trans[OFF], ok[OFF] = OFF, True
        char_class = np.array([_char_class(ch, alphabet) for ch in vocab.chars], dtype=np.int64)
        mask = ok[:, char_class]
        mask[:, vocab.unknown_id] = False  # never written, in any mode
        dead = ~mask.any(axis=1)  # no way on (a vocabulary without marks): write freely instead
        mask[dead], trans[dead] = mask[FREE], trans[FREE]
        return cls(mask=mask, trans=trans, cls=char_class, words=words)

    @property
    def states(self) -> int:
        return len(self.mask)

    def start(self, ids: Iterable[int]) -> int:
        """The state after a seed: walks its last characters (a text starts between words; a
        window that starts mid-word starts FREE, and the first mark resets it)."""
        ids = list(ids)
        state = FREE if len(ids) > SEED_WINDOW else BETWEEN
        for c in self.cls[ids[-SEED_WINDOW:]].tolist():
            state = int(self.trans[state, c])
        return state

    def allowed(self, states: np.ndarray) -> np.ndarray:
        """bool [rows, vocab]: what each row may write next (a row in state OFF: all but the unknown symbol)."""
        return self.mask[states]

    def advance(self, states: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Every row's state after writing `ids`."""
        return self.trans[states, self.cls[ids]]


def _trie_keys(lexicon: Lexicon, vocab: Vocab) -> list[str]:
    """The lexicon's words as the trie reads them (as `vocab` writes them, then `fold`ed); words with a
    character the vocabulary cannot write are left out. One translation table: a word at a time
    through `Vocab.encode` would cost most of the build."""
    table: dict[int, str] = {}
    for ch in set("".join(lexicon.counts)):
        ids = vocab.encode(vocab.normalize(ch))
        spelled = "".join(fold(vocab.chars[i]) for i in ids) if vocab.unknown_id not in ids else ""
        kind = _char_class(ch, {}) == STRANGER  # a letter must stay letters, a mark the same mark
        table[ord(ch)] = spelled if spelled and all((_char_class(c, {}) == STRANGER) == kind for c in spelled) \
            and (kind or (spelled == fold(ch) and spelled in ("'", "-"))) else "\0"  # no word with another mark
    keys = dict.fromkeys(word.translate(table) for word in lexicon.counts)
    return [key for key in keys if "\0" not in key]


def _char_class(ch: str, alphabet: Mapping[str, int]) -> int:
    key = fold(ch)
    if key == "'":
        return APOSTROPHE
    if key == "-":
        return HYPHEN
    if LETTER.fullmatch(key):
        return alphabet.get(key, STRANGER)
    return OTHER
