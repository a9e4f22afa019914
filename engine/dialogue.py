"""A dialogue turn: a person says something to one of the book's characters, who answers in voice.

The story gets the person's words as their speaker's quoted line (`“Who are you?” said Alice.`),
then the character's answer in the same form, as Carroll prints speech: a paragraph the engine opens
with a quotation mark, the model's words, and at the speech's first break (its first sentence's end,
or where the model closes it) the engine's attribution; then, for an answer of two sentences or more,
the speech goes on after it, written by the model once it has read who speaks:
`“I don't know,” said the Hatter. “It's always tea-time here.”` The answer is that character's by
construction; the words inside the quotation marks are the model's, sampled as any story's are
(best-of-K, the lexicon guide, every precision). The speech ends where the model closes the quotation,
or, after `sentences` sentences or at a paragraph break, where the engine closes it. The story then
holds exactly what was shown, the answer's turn marked with its character, so the next question
follows from it.

Who speaks in a book is recorded in the model folder's speakers.json (train/speakers.py).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.conversation import MODEL, PERSON, Conversation
from engine.outbox import GeneratorClosed
from engine.speech import CLOSE, MAX_ANSWER, OPEN, SpeechEnd, comma_ended
from engine.vocab import PARAGRAPH

if TYPE_CHECKING:
    from engine.generator import Generator

SPEAKERS = "speakers.json"
MAX_CAST = 64  # speakers a record keeps, most frequent first
MAX_RECORD_BYTES = 256 * 1024  # a bigger speakers.json is not read
MAX_NAME = 48  # characters of a character's or speaker's name (a Discord button carries it: 100 in all)
MAX_WORDS = 2000  # characters a person may say in one turn
DEFAULT_SENTENCES = 2  # sentences an answer may run to before the engine closes it
# best-of's repetition penalty for answers (stories: Sampling's 0.5). Twenty questions asked in one story
# got stock replies ("i don't know what...") at 0.5: 0.60-0.62 distinct word pairs; at 1.0, 0.66-0.68, for
# a little sense (the judge linked 76.1% of their sentences against 78.5%: docs/measurements.md)
ANSWER_REPEAT_PENALTY = 1.0
REOPEN = " " + OPEN  # after the attribution, before the speech that goes on (shown with its first word)
_BAD_NAME = re.compile(r"[\"“”‘’`<>@#*_|~\[\]\\\n\r\t]")


class DialogueError(ValueError):
    """A dialogue turn that cannot be taken; the message is one line for the person."""


@dataclass(frozen=True)
class Cast:
    """Who speaks in a model's book, most frequent first, with counts; `note` says why there is none."""

    speakers: tuple[tuple[str, int], ...] = ()
    note: str = ""

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.speakers]

    def default_speaker(self) -> str:
        """Who the person speaks as: the book's most frequent speaker (Alice in Alice), else "I"."""
        return self.speakers[0][0] if self.speakers else "I"

    def find(self, name: str) -> str:
        """The book's spelling of `name` typed in any case, with or without "the" (`hatter` -> `the
        Hatter`); a name the book does not have, as typed (anyone may be addressed)."""
        wanted = _bare(name)
        return next((known for known in self.names if _bare(known) == wanted), name.strip())


def _bare(name: str) -> str:
    return re.sub(r"^the\s+", "", name.strip().lower())


def read_cast(folder: str | Path) -> Cast:
    """The folder's speakers.json; an empty Cast with a one-line note when it is missing, too big,
    corrupt, or not a speakers record."""
    path = Path(folder) / SPEAKERS
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return Cast(note=f"{SPEAKERS} is over {MAX_RECORD_BYTES // 1024} KB, so it was not read")
        record = json.loads(path.read_text(encoding="utf-8"))
        speakers = tuple((str(name), int(count)) for name, count in record["speakers"]
                         if 0 < len(str(name)) <= MAX_NAME and not _BAD_NAME.search(str(name)))
    except FileNotFoundError:
        return Cast(note=f"this model has no {SPEAKERS} (python -m train.speakers MODEL_DIR records it)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Cast(note=f"{SPEAKERS} cannot be read ({type(exc).__name__}), so no characters are offered")
    return Cast(speakers[:MAX_CAST]) if speakers else Cast(note=f"{SPEAKERS} names nobody")


def checked_name(name: str, what: str = "a character's name") -> str:
    """A name as it may stand in the story: 1 to MAX_NAME characters, no quotation marks, mentions or
    markup; DialogueError otherwise."""
    name = " ".join(name.split())
    if not name:
        raise DialogueError(f"{what} is empty: say whom you talk to, e.g. the Hatter")
    if len(name) > MAX_NAME:
        raise DialogueError(f"{what} is {len(name)} characters long; at most {MAX_NAME}")
    if _BAD_NAME.search(name):
        raise DialogueError(f"{what} may not hold quotation marks, @, < >, or markup")
    return name


def checked_words(words: str) -> str:
    """What a person says: not empty, at most MAX_WORDS characters, on one paragraph."""
    words = " ".join(words.split())
    if not words:
        raise DialogueError("say something: the question is empty")
    if len(words) > MAX_WORDS:
        raise DialogueError(f"that is {len(words):,} characters; say it in at most {MAX_WORDS:,}")
    return words


def said_line(words: str, speaker: str) -> str:
    """The person's words as their speaker's line: `“Who are you?” said Alice.` (a full stop at the
    end of the words becomes a comma, as books print it)."""
    return as_paragraph(f"{OPEN}{comma_ended(words.strip())}{CLOSE}{attribution(speaker)}")


def attribution(speaker: str) -> str:
    """What follows a speech's close: ` said the Hatter.`"""
    return f" said {speaker}."


def as_paragraph(line: str) -> str:
    """A line as the story holds it, a paragraph of its own (`said_line` is; a reply shows it stripped)."""
    return PARAGRAPH + line


ANSWER_OPENING = as_paragraph(OPEN)  # the engine's start of an answer; the speech that follows is the model's


@dataclass(frozen=True)
class Address:
    """A dialogue turn as asked: the person's `words`, said as `speaker`, to `character` (no words:
    the character goes on)."""

    words: str
    character: str
    speaker: str
    sentences: int = DEFAULT_SENTENCES

    @classmethod
    def of(cls, words: str, character: str, cast: Cast, speaker: str | None = None,
           sentences: int = DEFAULT_SENTENCES) -> Address:
        """Checked: names as the book spells them (the speaker defaults to the book's most frequent)."""
        if not 1 <= sentences <= 10:
            raise DialogueError(f"an answer runs to 1-10 sentences, not {sentences}")
        character = cast.find(checked_name(character))
        speaker = cast.find(checked_name(speaker, "your speaker's name")) if speaker else cast.default_speaker()
        if _bare(character) == _bare(speaker):
            raise DialogueError(f"you speak as {speaker}; talk to somebody else")
        return cls(checked_words(words), character, speaker, sentences)

    def going_on(self) -> Address:
        """The same character speaking again, with no new words from the person (an empty line, /retry)."""
        return Address("", self.character, self.speaker, self.sentences)


class Answer:
    """A dialogue turn, taken as it is read: iterating adds the person's line to `story`, streams the
    character's answer (the opening mark, the model's speech, the close and attribution, and the speech
    that goes on after it) and adds it to `story` as shown, marked with its character, also when the
    reader stops early. `options` are Generator.stream's (sampling, best_of, rng_seed...); `parts` says
    afterwards how each part of the speech ended."""

    def __init__(self, generator: Generator, story: Conversation, address: Address, **options: Any) -> None:
        self.generator, self.story, self.address = generator, story, address
        self.options = {"repeat_penalty": ANSWER_REPEAT_PENALTY, **options}
        sampling = options.get("sampling")
        self.capital = (options.get("case") or (sampling.case if sampling is not None else "book")) == "book"
        self.parts: list[SpeechEnd] = []  # the parts of the speech begun so far
        self.before = 0  # the story's turns before the answer (set when it begins): what the model reads comes after
        self.text = ""  # the answer as shown, once read

    @property
    def closed_by(self) -> str:
        """How the speech ended (SpeechEnd.closed_by of its last part; "" before it has)."""
        return self.parts[-1].closed_by if self.parts else ""

    def __iter__(self) -> Iterator[str]:
        shown = self._begin()
        try:
            yield shown[0]
            for end in self._ends(shown):
                yield from self._stream(end, shown)
        finally:
            self._finish(shown)
        with contextlib.suppress(GeneratorClosed):  # an answer read to its end: the next turn starts sooner
            stream = self.generator.stream(self._as_read(), 1, exact=True)
            try:
                next(stream, "")
            finally:
                stream.close()

    def _begin(self) -> list[str]:
        """The person's line and the opening added to the story; the pieces shown so far."""
        story, address = self.story, self.address
        if address.words:
            story.add(said_line(address.words, address.speaker), PERSON)
        self.before = len(story.turns)
        story.add(ANSWER_OPENING, MODEL)  # a turn of its own until the end: the state after it stays cached
        return [ANSWER_OPENING]

    def _ends(self, shown: list[str]) -> Iterator[SpeechEnd]:
        """The parts of the speech, each begun once the one before has ended: its first sentence, up to
        the attribution; then, for two sentences or more, the rest, after the model has read who speaks."""
        first = SpeechEnd(1, attribution(self.address.character), self.capital)
        self.parts.append(first)
        yield first
        if self.address.sentences > 1 and first.closed_by in ("model", "sentences"):
            self.story.add("".join(shown[1:]) + REOPEN, MODEL)  # read from the state after the opening
            rest = SpeechEnd(self.address.sentences - 1, capital=self.capital, lead=REOPEN)
            self.parts.append(rest)
            yield rest

    def _as_read(self) -> Conversation:
        """The story once this answer has ended, as the next question would read it: its last
        `max_seed_chars` characters alone, from an empty state. Read now (one character written and
        dropped), it leaves the state the story ends in cached, so the next question reads only its own
        line. Nothing else cached it: the answer as shown is not what the model wrote (the attribution,
        the comma). Not read on from the state the answer started in: a state that has read a whole
        conversation wrote answers judged linked a point less often, 0.02 fewer distinct word pairs
        (docs/measurements.md), so an answer reads as the answers were measured."""
        text, _ = self.story.reading(self.generator.loaded.vocab)
        return Conversation.of(text[-self.generator.max_seed_chars:])

    def _finish(self, shown: list[str]) -> None:
        while len(self.story.turns) > self.before:  # what the model read of the answer: as shown, it is one turn
            self.story.undo()
        self.text = "".join(shown)
        self.story.add(self.text, MODEL, character=self.address.character)

    @staticmethod
    def _shown(piece: str, shown: list[str]) -> str:
        """`piece` (what `end` lets through of a chunk, or its close), recorded as shown."""
        if piece:
            shown.append(piece)
        return piece

    def _stream(self, end: SpeechEnd, shown: list[str]) -> Iterator[str]:
        """The model's characters after the story as it stands, through `end`, until it is done."""
        chars = self.generator.stream(self.story, MAX_ANSWER + 40, exact=True, **self.options)
        try:
            for chunk in chars:
                if piece := self._shown("".join(map(end.add, chunk)), shown):
                    yield piece
                if end.done:
                    return
            if piece := self._shown(end.finish(), shown):
                yield piece
        finally:
            close = getattr(chars, "close", None)
            if close is not None:
                close()


class AsyncAnswer(Answer):
    """`Answer` for `async for` (Discord's event loop), over `generator.astream`: the same turn, the
    same ends, the same story afterwards."""

    async def __aiter__(self) -> AsyncIterator[str]:
        shown = self._begin()
        try:
            yield shown[0]
            for end in self._ends(shown):
                async for piece in self._astream(end, shown):
                    yield piece
        finally:
            self._finish(shown)
        with contextlib.suppress(GeneratorClosed):
            stream = self.generator.astream(self._as_read(), 1, exact=True)
            try:
                await anext(stream, "")
            finally:
                await stream.aclose()

    async def _astream(self, end: SpeechEnd, shown: list[str]) -> AsyncIterator[str]:
        chars = self.generator.astream(self.story, MAX_ANSWER + 40, exact=True, **self.options)
        try:
            async for chunk in chars:
                if piece := self._shown("".join(map(end.add, chunk)), shown):
                    yield piece
                if end.done:
                    return
            if piece := self._shown(end.finish(), shown):
                yield piece
        finally:
            aclose = getattr(chars, "aclose", None)
            if aclose is not None:
                await aclose()
