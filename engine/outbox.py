"""Text made for one reader, waiting to be read: the worker fills it, a reader (engine/streams.py) takes."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class GeneratorClosed(RuntimeError):
    """The Generator was closed while (or before) this stream was generating."""


class Outbox:
    """Text made for one reader, waiting to be read. The worker appends without a lock (deque appends
    and pops are atomic in CPython) and wakes the reader at most once per read; between its wake-up
    ticks (engine.batch.WAKE_INTERVAL) it holds wake-ups back, so a reader that keeps up gets a chunk every few
    milliseconds, not a thread switch per character (those would cost the worker more than the model)."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._chars: deque[str] = deque()
        self._done = False
        self._error: BaseException | None = None
        self._signalled = False  # a wake-up is on its way and the reader has not taken since
        self._woken = False  # the reader was woken at least once (its first text is never held back)
        self._wake = wake

    def put(self, text: str = "", done: bool = False, error: BaseException | None = None,
            hold: bool = False) -> None:
        """Add text (and/or the end). `hold` holds back the wake-up unless it brings the first text
        or the end: the worker's next tick sends it."""
        if text:
            self._chars.append(text)
        if error is not None and self._error is None:
            self._error = error
        if done or error is not None:
            self._done = True  # after the text and the error: a reader that sees it has all of them
        if self._signalled or (hold and self._woken and not self._done):
            return
        self._signalled = self._woken = True
        self._wake()

    def take(self) -> tuple[str, bool]:
        """Everything ready so far, and whether the stream has ended; raises the worker's error."""
        self._signalled = False  # first: a put from now on wakes the reader again
        done = self._done  # before draining: all text put before the end is drained below
        chars = self._chars
        text = "".join([chars.popleft() for _ in range(len(chars))])
        error = self._error
        if text or not done or error is None:
            return text, done
        if isinstance(error, GeneratorClosed):
            raise GeneratorClosed(str(error))
        raise RuntimeError(f"generation failed: {error!r}") from error
