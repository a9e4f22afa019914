"""The reading side of a stream: an outbox the worker fills, and sync / asyncio readers of it.

A reader holds one slot in the Generator's batch; closing it, breaking out of the loop, Ctrl-C or
cancelling the task frees that slot at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.generator import Generator, _Request

WAKE_INTERVAL = 0.02  # seconds: a reader that keeps up is woken at most 50 times a second (smooth to a person)


class GeneratorClosed(RuntimeError):
    """The Generator was closed while (or before) this stream was generating."""


class Outbox:
    """Text made for one reader, waiting to be read. The reader is woken at most once per read and
    at most once per WAKE_INTERVAL: a reader that keeps up gets a chunk every few milliseconds, not a
    thread switch per character (those switches would cost the worker more than the model does)."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._done = False
        self._error: BaseException | None = None
        self._signalled = False  # a wake-up is on its way and the reader has not taken since
        self._last_wake = -WAKE_INTERVAL
        self._wake = wake

    def put(self, text: str = "", done: bool = False, error: BaseException | None = None,
            now: float | None = None) -> None:
        """Add text (and/or the end); `now` (time.monotonic) lets the worker hold back a wake-up:
        its next step's put, or the final one, sends it."""
        with self._lock:
            if text:
                self._parts.append(text)
            self._done = self._done or done or error is not None
            self._error = self._error or error
            if self._signalled or (not self._done and now is not None and now - self._last_wake < WAKE_INTERVAL):
                return
            self._signalled = True
            self._last_wake = time.monotonic() if now is None else now
        self._wake()

    def take(self) -> tuple[str, bool]:
        """Everything ready so far, and whether the stream has ended; raises the worker's error."""
        with self._lock:
            text, self._parts, self._signalled = "".join(self._parts), [], False
            error = self._error
            if text or error is None:
                return text, self._done
        if isinstance(error, GeneratorClosed):
            raise GeneratorClosed(str(error))
        raise RuntimeError(f"generation failed: {error!r}") from error


class _Reader:
    """What both readers share: the slot they hold and freeing it."""

    _generator: Generator
    _request: _Request | None
    _closed: bool

    def close(self) -> None:
        self._closed = True
        if self._request is not None:
            self._generator._leave(self._request)

    def __del__(self) -> None:
        self.close()


class SyncStream(_Reader, Iterator[str]):
    """A blocking reader of one stream."""

    def __init__(self, generator: Generator, start: Callable) -> None:
        self._generator, self._start = generator, start
        self._event = threading.Event()
        self._request: _Request | None = None
        self._closed = False

    def __next__(self) -> str:
        if self._closed:
            raise StopIteration
        try:
            if self._request is None:
                self._request = self._start(self._event.set)
            while True:
                self._event.clear()
                text, done = self._request.outbox.take()
                if text:
                    return text
                if done:
                    raise StopIteration
                self._event.wait()
        except BaseException:  # the end, an error, Ctrl-C: the slot is freed either way
            self.close()
            raise


class AsyncStream(_Reader, AsyncIterator[str]):
    """An asyncio reader of one stream: the worker wakes it through the event loop, thread-safely."""

    def __init__(self, generator: Generator, start: Callable) -> None:
        self._generator, self._start = generator, start
        self._request: _Request | None = None
        self._closed = False

    async def __anext__(self) -> str:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._request is None:
                self._event = asyncio.Event()
                # the wake-up must not refer back to this iterator, or the worker would keep it alive
                self._request = self._start(partial(_call_soon, asyncio.get_running_loop(), self._event.set))
            while True:
                self._event.clear()
                text, done = self._request.outbox.take()
                if text:
                    return text
                if done:
                    raise StopAsyncIteration
                await self._event.wait()
        except BaseException:  # the end, an error, task cancellation: the slot is freed either way
            self.close()
            raise

    async def aclose(self) -> None:
        self.close()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the reader's loop is closed: nobody is left to wake
        loop.call_soon_threadsafe(callback)
