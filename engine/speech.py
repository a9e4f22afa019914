"""Where quoted speech ends, character by character: the part of a character's answer the model
writes between the quotation marks the engine shows (engine/dialogue.py), and how speech is printed
before its attribution (`“I know,” said Alice.`, never `“I know.” said Alice.`)."""

from __future__ import annotations

from engine.endings import is_sentence_end

MAX_ANSWER = 600  # characters of speech at most in one part of an answer, whatever the sentences
OPEN, CLOSE = "\u201c", "\u201d"
_CLOSERS = frozenset(CLOSE + '"')
_STOPS = ".,;:"  # held back after a word: the attribution turns the last into a comma (`know,” said`)
SILENT = "\u2014"  # the speech of a character who closes the quotation before saying a word


def comma_ended(words: str) -> str:
    """Speech as it ends before its attribution: a final full stop, semicolon or colon becomes a comma
    (`I know.` -> `I know,`), a bare word gets one; a question, exclamation, dash or ellipsis stays."""
    body = words.rstrip(_STOPS)
    if words[len(body):].startswith("..") or (body == words and body.endswith(("?", "!", "\u2014", "-", "\u2026"))):
        return words
    return body + ","


def last_stops(stops: str) -> str:
    """The marks a speech ends with when nothing follows its close: a comma, semicolon or colon the
    model meant for an attribution becomes a full stop (`any rate,”` -> `any rate.”`); a full stop or
    an ellipsis stays."""
    return stops if not stops or "." in stops else "."


class SpeechEnd:
    """Where one part of a quoted answer ends, fed the model's characters one by one: at its closing
    quotation mark; or, closed by the engine, at a paragraph break, at an opening quotation mark
    (unbalanced marks otherwise: `saying “why`), after `sentences` sentences, or at MAX_ANSWER
    characters. The close is shown with `tail` after it: the attribution (`,” said the Hatter.`), a
    final full stop, semicolon or colon turned into the comma books print there (`comma_ended`); no
    tail, the speech's last full stop stays (`tea-time.”`) and a comma becomes one (`last_stops`).
    White space, and a full stop, comma, semicolon or colon after a word, are held back until a word
    follows (never taken back). `lead` is shown with the first word (the reopening ` “` of speech that
    goes on after its attribution): a part with a lead and no word shows nothing. `capital`: the
    speech's first letter is shown as a capital (in the book's case)."""

    def __init__(self, sentences: int, tail: str = "", capital: bool = False, lead: str = "") -> None:
        self.sentences, self.tail = sentences, tail  # tail: shown after the close (the attribution)
        self.lead = lead  # held until the first word
        self.text: list[str] = []  # the speech shown so far
        self.stops, self.space = "", ""  # held back: marks after the last word, then white space
        self.done, self.capital = False, capital  # capital: until the first letter is shown
        self.ended = 0  # sentences ended so far
        self.closed_by = ""  # once done: "model", "sentences", "paragraph", "quote", "length" or "stream"

    @property
    def spoke(self) -> bool:
        """Whether this part showed a word."""
        return bool(self.text)

    def add(self, char: str) -> str:
        """The text to show now for `char` (the close and the attribution when the answer ends here)."""
        if self.done:
            return ""
        if char in _CLOSERS:
            return self._close("model")
        if char == OPEN:  # a quotation opened inside the speech: a new one begins, so this one ends here
            return self._close("quote")
        if char == "\n" and "\n" in self.space:  # a paragraph break: the speech did not close
            return self._close("paragraph")
        if len(self.text) >= MAX_ANSWER:
            return self._close("length")
        if char.isspace():
            return self._space(char)
        if char in _STOPS:
            shown = self._release() if self.space else ""  # marks after a space (` ...`) follow what was held
            self.stops += char
            return shown
        if self.capital and char.isalpha():
            char, self.capital = char.upper(), False
        lead, self.lead = self.lead, ""
        shown = lead + self._release() + char
        self.text.append(char)
        return shown

    def _space(self, char: str) -> str:
        """White space, held; the first after a sentence's end counts the sentence (and may end the speech)."""
        if not self.text:
            return ""  # the speech starts with its first word
        if not self.space and is_sentence_end(self.text + list(self.stops), len(self.text) + len(self.stops)):
            self.ended += 1
            if self.ended >= self.sentences:
                return self._close("sentences")
        self.space += char
        return ""

    def _release(self) -> str:
        """What was held back, shown now that a word follows it."""
        shown, self.stops, self.space = self.stops + self.space, "", ""
        self.text.extend(shown)
        return shown

    def _close(self, why: str) -> str:
        self.done, self.closed_by = True, why
        if not self.text and self.lead:  # speech that would go on says nothing more: nothing to show
            self.stops, self.space = "", ""
            return ""
        shown = "" if self.text else SILENT  # a speech closed before a word: the character says nothing
        said = "".join(self.text) + shown  # never ends in a held mark: `comma_ended` changes only those
        shown += comma_ended(said + self.stops)[len(said):] if self.tail else last_stops(self.stops)
        self.stops, self.space = "", ""
        self.text.extend(shown)
        return shown + CLOSE + self.tail

    def finish(self) -> str:
        """The stream ran out before the answer ended: the engine closes it."""
        return "" if self.done else self._close("stream")
