"""Where a continuation ends: an exact count, or a natural ending near a target length.

Natural endings: `length` is a target. The text ends at the first sentence end at or after the
target (`.`, `!` or `?`, closing quotes or brackets after them, then white space; or a blank
line), if one comes within OVERSHOOT of the target; otherwise it is cut back to the last word end
at or before the target. Streamed text is never taken back: a character is handed to the reader
only once it is sure to be kept (text up to a word end at or before the target always is), so the
current partial word, and everything after the target until a sentence end, waits.
"""

from __future__ import annotations

import math

OVERSHOOT = 0.25  # a natural ending may run this share of the target past it, looking for a sentence end
NEAR_TARGET = 40  # word ends from this close before the target on may be where the text ends
SENTENCE_MARKS = ".!?"
CLOSERS = "”’\"')"  # may follow a sentence mark before the white space: `“off!”`, `(so.)`


def longest(length: int, exact: bool) -> int:
    """The most characters a continuation of target `length` can be (for a message-size cap)."""
    return length if exact else length + math.ceil(length * OVERSHOOT)


def target_within(room: int, exact: bool) -> int:
    """The largest target whose continuation never passes `room` characters."""
    if exact:
        return room
    target = int(room / (1 + OVERSHOOT))
    while target > 0 and longest(target, exact) > room:
        target -= 1
    while longest(target + 1, exact) <= room:
        target += 1
    return target


def is_sentence_end(text: list[str], end: int) -> bool:
    """Whether text[:end] ends a sentence: a mark, then only closing quotes or brackets."""
    i = end - 1
    while i >= 0 and text[i] in CLOSERS:
        i -= 1
    return i >= 0 and text[i] in SENTENCE_MARKS


class Ending:
    """One row's ending, fed the row's characters one by one. `add` says what may be sent to the
    reader now and whether the row is done; once done, `kept` is how many characters the text
    keeps (the characters written after them were never sent)."""

    def __init__(self, length: int, exact: bool = True) -> None:
        self.target, self.exact = length, exact
        self.budget = length if exact else longest(length, exact) + 1  # +1: the white space after a sentence end
        self.text: list[str] = []
        self.sent = 0  # characters handed to the reader
        self.safe = 0  # the last word end at or before the target: text up to it is always kept
        self.word_end = 0  # the last word end
        self.near = False  # the last `add` ended a word near (or past) the target: the text may end there
        self.kept = 0  # set when done

    def add(self, char: str) -> tuple[str, bool]:
        """Take the next character: (text to send now, whether the row is done)."""
        text = self.text
        text.append(char)
        n = len(text)
        if self.exact:
            self.kept = n
            return char, n >= self.target
        self.near = False
        if char.isspace() and n > 1:
            end = n - 1  # text[:end] is what precedes this white space
            if not text[end - 1].isspace():  # a word ends at `end`
                if end <= self.target:
                    self.safe = end
                self.word_end, self.near = end, end + NEAR_TARGET >= self.target
                if end >= self.target and is_sentence_end(text, end):
                    return self._end(end)
            elif char == "\n" and text[end - 1] == "\n":  # a blank line ends the paragraph before it
                stripped = end - 1
                while stripped > 0 and text[stripped - 1].isspace():
                    stripped -= 1
                if stripped >= self.target:
                    return self._end(stripped)
        if n >= self.budget:  # no sentence end within the overshoot: back to the last word end
            return self._end(self.safe or self.target)
        return self._send(self.safe), False

    def finish(self, kept: int) -> str:
        """End the text after its first `kept` characters (a sentence end the writer chose to stop
        at, short of the target); returns the text still to send."""
        return self._end(kept)[0]

    def _send(self, upto: int) -> str:
        if upto <= self.sent:
            return ""
        out, self.sent = "".join(self.text[self.sent:upto]), upto
        return out

    def _end(self, kept: int) -> tuple[str, bool]:
        self.kept = kept
        return self._send(kept), True

    @property
    def written(self) -> int:
        """Characters the row wrote (kept or not)."""
        return len(self.text)
