"""The reading side of a stream: an outbox the worker fills, and sync / asyncio readers of it.

A reader holds one slot in the Generator's batch; closing it, breaking out of the loop, Ctrl-C or
cancelling the task frees that slot at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.batch import Request
    from engine.generator import Generator


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


class _Reader:
    """What both readers share: the slot they hold, taking what is ready, and freeing the slot."""

    _event: threading.Event | asyncio.Event  # set by the worker's wake-up

    def __init__(self, generator: Generator, start: Callable) -> None:
        self._generator, self._start = generator, start
        self._request: Request | None = None
        self._closed = False

    def _poll(self) -> str | None:
        """Take what is ready: text, "" (nothing yet: wait for the wake-up), or None (the end)."""
        self._event.clear()  # first: a wake-up for text put after the take below is kept
        text, done = self._request.outbox.take()
        return None if done and not text else text

    def close(self) -> None:
        self._closed = True
        if self._request is not None:
            self._generator._leave(self._request)

    def __del__(self) -> None:
        self.close()


class SyncStream(_Reader, Iterator[str]):
    """A blocking reader of one stream."""

    def __init__(self, generator: Generator, start: Callable) -> None:
        super().__init__(generator, start)
        self._event = threading.Event()

    def __next__(self) -> str:
        if self._closed:
            raise StopIteration
        try:
            if self._request is None:
                self._request = self._start(self._event.set)
            while (text := self._poll()) == "":
                self._event.wait()
            if text is None:
                raise StopIteration
            return text
        except BaseException:  # the end, an error, Ctrl-C: the slot is freed either way
            self.close()
            raise


class AsyncStream(_Reader, AsyncIterator[str]):
    """An asyncio reader of one stream: the worker wakes it through the event loop, thread-safely."""

    async def __anext__(self) -> str:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._request is None:
                self._event = asyncio.Event()
                # the wake-up must not refer back to this iterator, or the worker would keep it alive
                self._request = self._start(partial(_waker(asyncio.get_running_loop()).wake, self._event.set))
            while (text := self._poll()) == "":
                await self._event.wait()
            if text is None:
                raise StopAsyncIteration
            return text
        except BaseException:  # the end, an error, task cancellation: the slot is freed either way
            self.close()
            raise

    async def aclose(self) -> None:
        self.close()


class _LoopWaker:
    """Wakes readers on one event loop from the worker thread: the readers woken during one step
    share one thread-safe call (one write to the loop's self-pipe instead of one per reader)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._pending: list[Callable[[], None]] = []

    def wake(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._pending.append(callback)
            if len(self._pending) > 1:
                return  # a call is already on its way and will run this one too
        loop = self._loop()
        with contextlib.suppress(RuntimeError, AttributeError):  # the loop is closed or gone: nobody to wake
            loop.call_soon_threadsafe(self._run)

    def _run(self) -> None:
        with self._lock:
            callbacks, self._pending = self._pending, []
        for callback in callbacks:
            callback()


_wakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWaker] = weakref.WeakKeyDictionary()
_wakers_lock = threading.Lock()


def _waker(loop: asyncio.AbstractEventLoop) -> _LoopWaker:
    with _wakers_lock:
        waker = _wakers.get(loop)
        if waker is None:
            waker = _wakers[loop] = _LoopWaker(loop)
        return waker
