"""Where each word of a text stands: its class (a paragraph's or sentence's start, after a quote, a verse
line, mid-sentence) and the words before it, read word by word. engine/casing.py says what each class
means for a capital; training counts by the same classes what the book did (train/casing.py)."""

from __future__ import annotations

import re

PARA, SENTENCE, QUOTED, OPEN, RESUMED, LINE, MID = "para", "sentence", "quoted", "open", "resumed", "line", "mid"
CLASSES = (PARA, SENTENCE, QUOTED, OPEN, RESUMED, LINE, MID)
LEARNT = (QUOTED, OPEN, RESUMED, LINE)  # the classes whose capital the book decides
_BROKEN_OFF = re.compile(r"[,;\u2014-][\u201d\u2019\"']")  # a quote closed mid-sentence: `“well,” said`
VERSE_LINE = 56  # a line shorter than this that ends no sentence reads as verse (prose wraps at 60-75)
_OPENERS = "\u201c\u2018\"'(["  # after white space (or another opener): straight quotes open only there
_CLOSERS = "\u201d\u2019\"')]_"
_END = re.compile(r"[.!?]([" + re.escape(_CLOSERS) + r"]*)\s")  # a sentence end and what closes after it


def key_of(word: str) -> str:
    """A word as the record keys it: lowercase, ’ as '."""
    return word.lower().replace("\u2019", "'")


class Scanner:
    """Walks text word by word, saying each word's class (see the module docstring) and the word before."""

    def __init__(self) -> None:
        self.gap = ""  # what came since the last word
        self.prev = ""  # the last word's key
        self.prev2 = ""  # the key of the word before it
        self.col = 0  # characters on the current line
        self.above = -1  # characters on the line above it (-1: none, the text started on this line)
        self.started = False  # a word has been seen (the text's first word starts a paragraph)
        self.broken_off = False  # this sentence has a quote closed mid-sentence: the next one resumes it

    def step(self, gap: str, word: str) -> tuple[str, str, str]:
        """The class of `word` after `gap` (non-word text), and the keys of the two words before it
        (the nearer first; "" at a paragraph's start)."""
        gap = self.gap + gap
        kind = classify(gap, self.started, self.col, self.above)
        if kind in (PARA, SENTENCE, QUOTED):
            self.broken_off = False
        if kind == OPEN and self.broken_off:
            kind = RESUMED
        self.broken_off = self.broken_off or bool(_BROKEN_OFF.search(gap))
        prev, prev2 = (self.prev, self.prev2) if kind != PARA else ("", "")
        self.prev2 = prev
        line = gap.rfind("\n")
        if line >= 0:  # the line above is the last one this gap ends (a blank line's is 0 long)
            first = gap.find("\n")
            self.above = self.col + first if first == line else line - gap.rfind("\n", 0, line) - 1
        self.col = (self.col + len(gap) if line < 0 else len(gap) - line - 1) + len(word)
        self.gap, self.prev, self.started = "", key_of(word), True
        return kind, prev, prev2

    def skip(self, gap: str) -> None:
        """Text with no word in it (yet): it joins the next word's gap."""
        self.gap += gap


def classify(gap: str, started: bool, col: int, above: int = -1) -> str:
    """The class of a word after `gap`, the non-word text since the last word (`col` characters on the
    line where that word ended, `above` on the line above that one, -1 for none)."""
    if not started or "\n\n" in gap:
        return PARA
    ends = list(_END.finditer(gap))
    end = ends[-1] if ends else None
    stripped = gap.rstrip()
    opened = stripped != "" and stripped[-1] in _OPENERS and (stripped[-1] in "\u201c\u2018" or len(stripped) > 1 and (
        stripped[-2].isspace() or stripped[-2] in _OPENERS + "\u2014-:"))
    if end is not None and not (end.group(1).strip("_") and end.group(0)[0] != "." and not opened):
        return SENTENCE
    newline = gap.find("\n")
    if newline >= 0 and col + newline < VERSE_LINE and 0 <= above < VERSE_LINE:
        return LINE  # two short lines are verse, even after `late!”` or before `“` (one may be a seed)
    return QUOTED if end is not None else OPEN if opened else MID
