"""The reading side without a model: the lock-free outbox under a racing writer, and the asyncio
wake-ups shared by the readers of one event loop."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from engine.outbox import GeneratorClosed, Outbox
from engine.streams import _waker


@pytest.fixture
def busy_thread_switching():
    """Switch threads every microsecond instead of every 5 ms, so writer and reader interleave
    at every point where the interpreter can switch."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_outbox_hands_over_every_character_in_order_while_the_writer_races_the_reader(busy_thread_switching):
    woken = threading.Event()
    box = Outbox(woken.set)
    text = "".join(chr(ord("a") + i % 26) for i in range(200_000))
    received: list[str] = []

    def write() -> None:
        for i, char in enumerate(text):
            box.put(char, hold=i % 64 != 0)  # mostly held back, as between the worker's ticks
        box.put(done=True)

    writer = threading.Thread(target=write)
    writer.start()
    while True:  # the reader's loop, as SyncStream runs it
        woken.clear()
        chunk, done = box.take()
        received.append(chunk)
        if done and not chunk:
            break
        if not chunk:
            assert woken.wait(timeout=10), "a wake-up was lost"
    writer.join()
    assert "".join(received) == text
    assert len(received) > 10  # taken in many chunks while it was being written (83 to 400+, by scheduling)


def test_outbox_wakes_for_the_first_text_and_the_end_even_when_held_back():
    wakes = []
    box = Outbox(lambda: wakes.append(1))
    box.put("a", hold=True)
    assert len(wakes) == 1  # the first text is never held back: the reader is waiting for it
    box.take()
    box.put("b", hold=True)
    assert len(wakes) == 1  # held back until the next tick
    box.put("c", hold=False)
    assert len(wakes) == 2
    box.put("d", hold=False)
    assert len(wakes) == 2  # one wake-up per read: the reader has not taken since
    assert box.take() == ("bcd", False)
    box.put(done=True, hold=True)
    assert len(wakes) == 3 and box.take() == ("", True)


def test_outbox_delivers_text_before_the_error_then_raises_it():
    box = Outbox(lambda: None)
    box.put("abc")
    box.put(error=GeneratorClosed("closed"))
    assert box.take() == ("abc", True)
    with pytest.raises(GeneratorClosed):
        box.take()
    failed = Outbox(lambda: None)
    failed.put(error=MemoryError())
    with pytest.raises(RuntimeError, match="generation failed: MemoryError"):
        failed.take()


def test_readers_of_one_loop_share_one_wake_up_and_each_loop_has_its_own():
    """Wake-ups sent from another thread in one burst reach every reader, in one call to the loop."""
    results: dict[int, tuple[int, int]] = {}

    def loop_thread(key: int) -> None:
        async def main() -> tuple[int, int]:
            loop = asyncio.get_running_loop()
            events = [asyncio.Event() for _ in range(8)]
            calls = 0
            original = loop.call_soon_threadsafe

            def counting(*args):
                nonlocal calls
                calls += 1
                return original(*args)
            loop.call_soon_threadsafe = counting
            waker = _waker(loop)
            sender = threading.Thread(target=lambda: [waker.wake(event.set) for event in events])
            sender.start()
            sender.join()  # the loop is busy (blocked here) while the burst arrives, as during a step's wake-ups
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in events)), timeout=10)
            return calls, sum(event.is_set() for event in events)
        results[key] = asyncio.run(main())

    threads = [threading.Thread(target=loop_thread, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    for calls, woken in results.values():
        assert woken == 8
        assert calls == 1  # the burst was folded into one loop call
    assert len(results) == 2
