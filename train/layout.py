"""Printed layout out of training text: what a model learns from it is junk in a story.

A Project Gutenberg book is laid out for a page: centred titles, indented verse, rows of `*` between
scenes, chapter headings, tables drawn with `|` and `-`, runs of blank lines. A model trained on it
writes those too (runs of spaces, ornament rows, "chapter x." in the middle of a story). `clean_layout`
keeps the words and punctuation and drops the page:
- every line left-aligned, trailing white space dropped;
- ornament rows (lines of only `*`, `-`, `_`, `=`, `~`, `+`, `|`, `#` and spaces, or of dots) dropped;
- chapter headings dropped ("CHAPTER I.", "Chapter 12", "BOOK THE FIRST", "PART II.", "STAVE ONE",
  a line of only a numeral, "CONTENTS"), with the title lines right under them (up to two short lines
  before a blank line): a story told on goes on without them, and engine/layout.py keeps the bundled
  models, which learnt them, from writing them;
- runs of more than MAX_SPACES spaces inside a line made one space;
- more than one blank line in a row made one.
Whole-text regular expressions, no list of lines: a corpus can be hundreds of MB.
"""

from __future__ import annotations

import re

MAX_SPACES = 24  # the longest run of spaces the books' own prose has (engine/layout.py allows the same)

_M = re.MULTILINE
_INDENT = re.compile(r"^[ \t\u00a0]+", _M)
_TRAILING = re.compile(r"[ \t\u00a0]+$", _M)
# a row of only ornament marks and spaces, with at least one mark that is not a dot or dash, or of three
# dots or more (". . . . ."); the row goes with its line end
_ORNAMENT_ROW = re.compile(r"^(?:[*\-_=~+|#.•·\u2014 \t]*[*_=~+|#•·-][*\-_=~+|#.•·\u2014 \t]*|"
                           r"[ \t]*\.(?:[ \t]*\.){2,}[ \t]*)$\n?", _M)
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"  # i, xii, lxvii; not "did"
_NUMBER = (r"(?:\d+|" + _ROMAN + r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
           r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|"
           r"the (?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last))")
# "chapter i." + title, "chapter 12", "book the first"; then the title lines right under it (at most
# two short ones, a blank line after them), if any.
_HEADING = re.compile(
    r"^(?:chapter|book|part|stave|canto|volume)[ \t]+" + _NUMBER + r"\b(?:[.:][^\n]*|[ \t]*[-\u2014\u2013][^\n]*|"
    r"[ \t]{2,}[^\n]*)?[ \t]*(?:\n|\Z)(?:(?:[^\n]{1,60}\n){1,2}(?=\n|\Z))?", _M | re.IGNORECASE)
# a numeral alone ("XII.", a page number) or "CONTENTS": the line only (prose may follow it directly)
_NUMERAL_LINE = re.compile(r"^(?:\d+|" + _ROMAN + r"|contents)\.?[ \t]*$\n?", _M | re.IGNORECASE)
_LONG_SPACES = re.compile(f" {{{MAX_SPACES + 1},}}")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_layout(text: str) -> str:
    """`text` (normalised, LF line ends) without its printed layout (see the module docstring);
    words and punctuation otherwise unchanged."""
    text = _TRAILING.sub("", _INDENT.sub("", text))
    text = _ORNAMENT_ROW.sub("", text)
    text = _HEADING.sub("\n", text)  # a heading stands for a paragraph break
    text = _NUMERAL_LINE.sub("", text)
    text = _LONG_SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip("\n")
