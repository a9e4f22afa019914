"""Non-interactive use: one generation for `--seed TEXT`, or one per line read from a pipe.

Output is plain text, streamed as it is produced: the continuation only (the seed first with
`echo`), then a newline. No prompt, no colour, nothing else on stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from bot.model_loading import close_generator, open_generator
from bot.settings import Settings
from bot.write_request import WriteRequest


def run_once(settings: Settings, seed: str, out: TextIO, rng_seed: int | None = None, echo: bool = False,
             talk: str | None = None) -> int:
    """Print the continuation of `seed` (with `talk`: that character's answer to it). Raises
    ModelLoadError for an unusable model folder; a turn that cannot be taken is one line on stderr (exit 2)."""
    from engine.dialogue import DialogueError

    if talk is not None and _refused(talk, seed):
        return 2
    if echo:  # the seed is known before torch is: show it at once
        out.write(seed)
        out.flush()
    generator = open_generator(settings)
    try:
        _print_generation(generator, WriteRequest.by_settings(settings, seed, rng_seed=rng_seed, talk=talk), out)
    except DialogueError as exc:
        print(f"alice: {exc}", file=sys.stderr)
        return 2
    finally:
        close_generator(generator)
    return 0


def run_pipe(settings: Settings, lines: Iterable[str], out: TextIO, rng_seed: int | None = None,
             echo: bool = False, talk: str | None = None) -> int:
    """One generation per non-empty input line, each ending with a newline (with `talk`: that
    character's answer to the line, a turn that cannot be taken said on stderr). With `rng_seed`,
    every line uses that seed, so the same line always gives the same text."""
    from engine.dialogue import DialogueError

    if talk is not None and _refused(talk):
        return 2
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
            request = WriteRequest.by_settings(settings, seed, rng_seed=rng_seed, talk=talk)
            try:
                _print_generation(generator, request, out)
            except DialogueError as exc:
                print(f"alice: {exc}", file=sys.stderr)
    finally:
        if generator is not None:
            close_generator(generator)
    return 0


def _refused(talk: str, words: str | None = None) -> bool:
    """Whether the name talked to (and `words`, said to them) cannot be taken, said in one line on stderr;
    checked before the model loads (engine.dialogue is free of torch), so a refusal takes no time."""
    from engine.dialogue import DialogueError, checked_name, checked_words

    try:
        checked_name(talk)
        if words is not None:
            checked_words(words)
    except DialogueError as exc:
        print(f"alice: {exc}", file=sys.stderr)
        return True
    return False


def _print_generation(generator: Any, request: WriteRequest, out: TextIO) -> None:
    stream = request.stream(generator)
    try:
        for index, piece in enumerate(stream):
            out.write(piece.lstrip("\n") if request.talk and not index else piece)  # an answer starts the output
            out.flush()
    finally:
        stream.close()
    out.write("\n")
    out.flush()
