"""The reading side of a stream: sync and asyncio readers of the outbox the worker fills.

A reader holds one slot in the Generator's batch; closing it, breaking out of the loop, Ctrl-C or
cancelling the task frees that slot at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.batch import Request  # the slot a reader holds: data, no calls back up
    from engine.casing import Recaser


class _Reader:
    """What both readers share: the slot they hold, taking what is ready, and freeing the slot.
    `start(wake)` takes the slot at the first read; `leave(request)` frees it."""

    _event: threading.Event | asyncio.Event  # set by the worker's wake-up

    def __init__(self, start: Callable[[Callable[[], None]], Request], leave: Callable[[Request], None],
                 recaser: Recaser | None = None) -> None:
        self._start, self._leave = start, leave
        self._recaser = recaser  # shows the text in the book's case (None: as written)
        self._request: Request | None = None
        self._closed = False

    def _poll(self) -> str | None:
        """Take what is ready: text, "" (nothing yet: wait for the wake-up), or None (the end)."""
        self._event.clear()  # first: a wake-up for text put after the take below is kept
        text, done = self._request.outbox.take()
        if self._recaser is not None:  # holds back the word being written until it ends
            text = self._recaser.feed(text) + (self._recaser.finish() if done else "")
        return None if done and not text else text

    def close(self) -> None:
        self._closed = True
        if self._request is not None:
            self._leave(self._request)

    def __del__(self) -> None:
        self.close()


class SyncStream(_Reader, Iterator[str]):
    """A blocking reader of one stream."""

    def __init__(self, start: Callable[[Callable[[], None]], Request], leave: Callable[[Request], None],
                 recaser: Recaser | None = None) -> None:
        super().__init__(start, leave, recaser)
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
