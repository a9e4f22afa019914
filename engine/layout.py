"""The layout guard: which characters a row may not write next, so that no story gets printed-page junk.

The bundled models learnt the books' page layout (centred headings, rows of `*`, "chapter x."), and
write it: an empty seed can write nothing but spaces, a story can get a run of 190 spaces. Training
text is cleaned of it now (train/layout.py); for models that learnt it, generation is guarded. Before
each character the sampler masks out `LayoutGuard.banned_ids(...)`:
- a space (any horizontal white space) once the current run of them is MAX_SPACES long, or MAX_INDENT
  at the start of a line (the books indent verse by 4 or 8; deeper is centring);
- a line break once the text ends in a blank line (two line breaks, white space between allowed);
- white space before the continuation's first letter: from a blank seed none at all (the stream
  starts a paragraph and writes text), after any other seed at most MAX_LEAD (a paragraph break);
- on a line that has no letter or digit yet, the marks that begin an ornament row (`*`, `|`, ...)
  and a second `-`, `_` or `.`, unless the story itself has ornament rows;
- a numeral right after "chapter " at the start of a line, unless the story itself has headings.
Every rule reads only the end of the text (the last TAIL_CHARS characters), so a call costs about
the same whatever the story's length (tests/test_layout.py times it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.vocab import PARAGRAPH, Vocab

__all__ = ["MAX_INDENT", "MAX_LEAD", "MAX_SPACES", "TAIL_CHARS", "LayoutGuard", "StoryLayout", "banned_chars",
           "is_blank", "layout_rules", "next_lead", "story_start"]

MAX_SPACES = 24  # the longest run of spaces in the books' own prose
MAX_INDENT = 8  # the deepest indentation of the books' verse
MAX_LEAD = 2  # white space a continuation may write before its first letter after a non-blank seed ("\n\n")
TAIL_CHARS = 64  # the guard reads no further back than this: a heading's start is at most 24 + 8 characters in
ORNAMENT_MARKS = "*|+=~#•·"  # a line without a letter may not take these
REPEATED_MARKS = "-_."  # nor a second of these ("--", "__", ". ." begin rules and dot rows; "_very_" is text)
NUMERALS = "0123456789ivxlcdmIVXLCDM"
_SPACE = " \t\u00a0\u200a\u2009\u2002\u2003"  # horizontal white space the vocabularies hold
_BLANK_END = re.compile(r"\n[^\S\n]*\n[^\S\n]*\Z")
_HEADING_START = re.compile(r"[^\S\n]*chapter[^\S\n]+", re.IGNORECASE)
_STORY_ORNAMENT = re.compile(r"^[^\S\n]*[*|+=~#•·_.-](?:[^\S\n]*[*|+=~#•·_.-])+[^\S\n]*$", re.MULTILINE)
_STORY_HEADING = re.compile(r"^[^\S\n]*chapter[^\S\n]+[0-9ivxlcdm]", re.MULTILINE | re.IGNORECASE)


def is_blank(text: str) -> bool:
    """Whether `text` is empty or white space only (a reply of it shows nothing)."""
    return not text or text.isspace()


def story_start(seed: str) -> str:
    """The text a stream reads first: the seed, or for a blank seed a paragraph's start."""
    return PARAGRAPH if is_blank(seed) else seed


@dataclass(frozen=True)
class StoryLayout:
    """What the story a row continues allows: built once per row from its seed (or transcript)."""

    blank: bool = False  # the seed is blank: no white space at all before the first letter
    ornaments: bool = False  # the story has ornament rows of its own: the guard lets them be
    headings: bool = False  # the story has "chapter N" headings of its own: the guard lets them be

    @classmethod
    def of(cls, seed: str) -> StoryLayout:
        return cls(blank=is_blank(seed), ornaments=bool(_STORY_ORNAMENT.search(seed)),
                   headings=bool(_STORY_HEADING.search(seed)))


def next_lead(lead: int | None, ch: str) -> int | None:
    """The lead after writing `ch`: white space written before the first letter, None once a letter is.
    A row starts at 0."""
    if lead is None or ch.isalpha():
        return None
    return lead + 1 if ch.isspace() else lead


def layout_rules(tail: str, story: StoryLayout, lead: int | None) -> tuple[str, ...]:
    """The names of the rules that ban something next (see the module docstring and RULE_CHARS); ()
    for most calls.

    `tail`: the story so far (seed or `story_start(seed)`, then what the row wrote), its last TAIL_CHARS
    characters or all of it when shorter (a story begins at a line start); `lead`: see `next_lead`."""
    if lead is None and tail[-1:].isalnum():  # most calls: every rule needs a lead, white space last or a bare line
        return ()
    rules: list[str] = []
    if lead is not None and (story.blank or lead >= MAX_LEAD):
        rules.append("whitespace")
    else:
        if len(tail) >= MAX_SPACES and not tail[-MAX_SPACES:].strip(_SPACE):
            rules.append("space")
        last = tail[-1:]
        if (last == "\n" or last and last in _SPACE) and _BLANK_END.search(tail[-2 * MAX_SPACES - 2:]):
            rules.append("newline")
    line = tail.rpartition("\n")[2]
    if "space" not in rules and len(line) >= MAX_INDENT and not line.strip(_SPACE):
        rules.append("space")
    if len(line) < TAIL_CHARS:  # a longer line has text in it
        if not story.ornaments:
            content = line.strip()
            if not any(ch.isalnum() for ch in content):
                rules.append("ornament")
                if content and all(ch in REPEATED_MARKS or ch.isspace() for ch in content):
                    rules.append("repeated mark")
        if not story.headings and len(line) >= 8 and _HEADING_START.fullmatch(line):
            rules.append("numeral")
    return tuple(rules)


def banned_chars(tail: str, story: StoryLayout, lead: int | None) -> frozenset[str]:
    """The characters the next one may not be (`layout_rules` spelt out; white space: of Unicode's)."""
    return frozenset(ch for rule in layout_rules(tail, story, lead) for ch in RULE_CHARS[rule])


RULE_CHARS = {"whitespace": " \t\n\u00a0\u200a\u2009\u2002\u2003", "space": _SPACE, "newline": "\n",
              "ornament": ORNAMENT_MARKS, "repeated mark": REPEATED_MARKS, "numeral": NUMERALS}


class LayoutGuard:
    """`banned_chars` as the vocabulary's ids, cached: build one per model (its vocabulary)."""

    def __init__(self, vocab: Vocab) -> None:
        chars = vocab.chars
        self._ids = {rule: {i for i, ch in enumerate(chars) if ch in wanted} for rule, wanted in RULE_CHARS.items()}
        self._ids["whitespace"] = {i for i, ch in enumerate(chars) if ch.isspace()}
        self._cache: dict[tuple[str, ...], tuple[int, ...]] = {(): ()}

    def banned_ids(self, tail: str, story: StoryLayout, lead: int | None) -> tuple[int, ...]:
        """Ids the next character may not be, sorted; () for most calls (nothing to ban)."""
        rules = layout_rules(tail, story, lead)
        ids = self._cache.get(rules)
        if ids is None:  # a handful of rule combinations ever occur
            ids = self._cache[rules] = tuple(sorted(set().union(*(self._ids[rule] for rule in rules))))
        return ids
