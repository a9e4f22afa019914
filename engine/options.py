"""What one stream is asked for (`StreamOptions`), and the keywords that ask for it.

`Generator.stream`, `astream` and `generate` take a seed, a length and these keywords: a whole
`sampling` and/or any of its fields, which override it (None: not overridden).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypedDict

from engine.sampling import Sampling

if TYPE_CHECKING:
    from typing_extensions import Unpack

DEFAULT_LENGTH = 400  # characters a stream writes when not told


class SamplingOverrides(TypedDict, total=False):
    """Sampling's fields, each overriding the stream's `sampling` (None: not overridden)."""

    temperature: float | None
    top_k: int | None
    top_p: float | None
    words: str | None
    best_of: int | None
    case: str | None
    repeat_penalty: float | None


class Options(SamplingOverrides, total=False):
    """The keywords of Generator.stream, astream and generate (see StreamOptions)."""

    sampling: Sampling | None
    rng_seed: int | None
    exact: bool


@dataclass(frozen=True)
class StreamOptions:
    """How one stream is written."""

    length: int = DEFAULT_LENGTH  # characters: exactly, or with exact=False about that many
    sampling: Sampling = field(default_factory=Sampling)
    rng_seed: int | None = None  # seeds the stream's own random draws (None: fresh ones each time)
    exact: bool = True  # False: end naturally near `length` (engine/endings.py)

    def __post_init__(self) -> None:
        if self.length < 0:
            raise ValueError(f"length must be 0 or more, not {self.length}")

    @classmethod
    def of(cls, length: int = DEFAULT_LENGTH, *, sampling: Sampling | None = None, rng_seed: int | None = None,
           exact: bool = True, **overrides: Unpack[SamplingOverrides]) -> StreamOptions:
        """The options the keywords ask for: `sampling` (default Sampling()) with the fields given in
        `overrides` replaced; an unknown keyword is a TypeError, a bad value a ValueError."""
        changes = {name: value for name, value in overrides.items() if value is not None}
        return cls(length, replace(sampling or Sampling(), **changes), rng_seed, exact)
