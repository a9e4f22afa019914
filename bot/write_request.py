"""What a person asked for (`WriteRequest`), from either front end, and the one place it is written.

The terminal and Discord read people's words and settings into a WriteRequest; `stream` and
`astream` hand it to the model's Generator. Free of torch: the Generator is whatever the front end
loaded (tests give stand-ins).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot.settings import Settings
from engine.sampling_settings import Sampling

if TYPE_CHECKING:  # annotations only: the dialogue parts are imported where a turn is written
    from engine.conversation import Conversation
    from engine.dialogue import Address, Cast


@dataclass(frozen=True)
class WriteRequest:
    """One continuation someone asked for."""

    seed: str = ""  # the text they typed (shown above a Discord reply; the story holds it too)
    model: str = ""  # the command of the model that writes it ("": the front end's one model)
    sampling: Sampling = field(default_factory=Sampling)
    length: int = Settings.length  # characters: exactly (`exact`), else a target ending at a sentence end near it
    exact: bool = Settings.exact
    rng_seed: int | None = None  # the same seed text then gives the same output (None: random)
    requester: int | None = None  # who asked (a Discord user id; None in the terminal)
    talk: str | None = None  # a character of the book: the seed is said to them, who answers (engine/dialogue.py)
    speaker: str | None = None  # who the person speaks as (None: the book's most frequent speaker)
    sentences: int = 2  # sentences an answer may run to

    @classmethod
    def by_settings(cls, settings: Settings, seed: str = "", **given: Any) -> WriteRequest:
        """What `settings` ask for by default, with `given` fields (a model, a length, who asked) set."""
        return cls(seed, sampling=settings.sampling(), length=settings.length, exact=settings.exact).but(**given)

    def but(self, **changes: Any) -> WriteRequest:
        """A copy with `changes` (fields given as None are left as they are)."""
        return replace(self, **{name: value for name, value in changes.items() if value is not None})

    def stream(self, generator: Any, story: str | Conversation | None = None) -> Iterator[str]:
        """The continuation of `story` (default: the seed) as it is written; close it to stop early. With
        `talk`, the character's answer to the seed (none: they go on), added to a Conversation `story`
        by the stream itself; DialogueError (one line) for a turn that cannot be taken, story untouched."""
        if self.talk is not None:
            from engine.dialogue import Answer

            return iter(Answer(generator, _conversation(story), self.address(cast_of(generator)), **self._said()))
        return generator.stream(self.seed if story is None else story, self.length, **self._options())

    def astream(self, generator: Any, story: str | Conversation | None = None) -> AsyncIterator[str]:
        """`stream` for `async for` (Discord's event loop)."""
        if self.talk is not None:
            from engine.dialogue import AsyncAnswer

            answer = AsyncAnswer(generator, _conversation(story), self.address(cast_of(generator)), **self._said())
            return aiter(answer)
        return generator.astream(self.seed if story is None else story, self.length, **self._options())

    def address(self, cast: Cast) -> Address:
        """The dialogue turn asked for: the seed said to `talk`; no seed: `talk` goes on. DialogueError if bad."""
        from engine.dialogue import Address

        turn = Address.of(self.seed.strip() or "…", self.talk or "", cast, self.speaker, self.sentences)
        return turn if self.seed.strip() else turn.going_on()

    def _options(self) -> dict[str, Any]:
        return {"sampling": self.sampling, "rng_seed": self.rng_seed, "exact": self.exact}

    def _said(self) -> dict[str, Any]:
        return {"sampling": self.sampling, "rng_seed": self.rng_seed}  # an answer's length is the speech's


def cast_of(generator: Any) -> Cast:
    """Who speaks in the book of `generator`'s model (its folder's speakers.json)."""
    from engine.dialogue import read_cast

    return read_cast(generator.loaded.path)


def _conversation(story: str | Conversation | None) -> Conversation:
    from engine.conversation import Conversation

    if isinstance(story, Conversation):
        return story
    conversation = Conversation()
    conversation.add(story or "")
    return conversation
