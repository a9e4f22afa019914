"""Non-interactive use: one generation for `--seed TEXT`, or one per line read from a pipe.

Output is plain text, streamed as it is produced: the continuation only (the seed first with
`echo`), then a newline. No prompt, no colour, nothing else on stdout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from bot.loader import close_generator, open_generator
from bot.settings import Settings


def run_once(settings: Settings, seed: str, out: TextIO, rng_seed: int | None = None, echo: bool = False) -> int:
    """Print the continuation of `seed`. Raises ModelLoadError for an unusable model folder."""
    if echo:  # the seed is known before torch is: show it at once
        out.write(seed)
        out.flush()
    generator = open_generator(settings)
    try:
        _print_generation(generator, settings, seed, out, rng_seed)
    finally:
        close_generator(generator)
    return 0


def run_pipe(settings: Settings, lines: Iterable[str], out: TextIO, rng_seed: int | None = None,
             echo: bool = False) -> int:
    """One generation per non-empty input line, each ending with a newline. With `rng_seed`,
    every line uses that seed, so the same line always gives the same text."""
    generator = None
    try:
        for line in lines:
            seed = line.rstrip("\r\n")
            if not seed.strip():
                continue
            if echo:
                out.write(seed)
                out.flush()
            generator = generator or open_generator(settings)  # loaded once, and only if needed
            _print_generation(generator, settings, seed, out, rng_seed)
    finally:
        if generator is not None:
            close_generator(generator)
    return 0


def _print_generation(generator: Any, settings: Settings, seed: str, out: TextIO, rng_seed: int | None) -> None:
    stream = generator.stream(seed, length=settings.length, temperature=settings.temperature,
                              top_k=settings.top_k, top_p=settings.top_p, words=settings.words,
                              best_of=settings.best_of, case=settings.case, rng_seed=rng_seed,
                              exact=settings.exact)
    try:
        for piece in stream:
            out.write(piece)
            out.flush()
    finally:
        stream.close()
    out.write("\n")
    out.flush()
