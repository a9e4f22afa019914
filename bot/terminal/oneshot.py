"""Non-interactive use: one generation for `--seed TEXT`, or one per line read from a pipe.

Output is plain text, streamed as it is produced: the continuation only (the seed first with
`echo`), then a newline. No prompt, no colour, nothing else on stdout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from bot.model_loading import close_generator, open_generator
from bot.settings import Settings
from bot.write_request import WriteRequest


def run_once(settings: Settings, seed: str, out: TextIO, rng_seed: int | None = None, echo: bool = False) -> int:
    """Print the continuation of `seed`. Raises ModelLoadError for an unusable model folder."""
    if echo:  # the seed is known before torch is: show it at once
        out.write(seed)
        out.flush()
    generator = open_generator(settings)
    try:
        _print_generation(generator, WriteRequest.by_settings(settings, seed, rng_seed=rng_seed), out)
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
            _print_generation(generator, WriteRequest.by_settings(settings, seed, rng_seed=rng_seed), out)
    finally:
        if generator is not None:
            close_generator(generator)
    return 0


def _print_generation(generator: Any, request: WriteRequest, out: TextIO) -> None:
    stream = request.stream(generator)
    try:
        for piece in stream:
            out.write(piece)
            out.flush()
    finally:
        stream.close()
    out.write("\n")
    out.flush()
