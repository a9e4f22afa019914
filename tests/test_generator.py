"""Generator on the bundled model: seeds, determinism, the loop criterion, continuous batching, cancellation."""

from __future__ import annotations

import asyncio
import gc
import statistics
import threading
import time
from collections import Counter

import pytest
import torch

from engine import Generator, Sampling
from engine.generator import DEFAULT_MAX_SEED_CHARS, GeneratorClosed
from engine.modelfolder import BUNDLED_MODEL, LoadedModel, pick_device
from engine.steps.fp32 import FastStep
from engine.vocab import PARAGRAPH, UNKNOWN_CHAR

LOOP_SEEDS = [
    "", "alice", "the queen", "down the rabbit hole", "“off with her head!”", "the mock turtle sighed",
    "curiouser and curiouser", "the cat", "she said", "once upon a time", "why, there", "chapter i.\n\n",
    "the king said to the jury", "a mad tea-party", "the duchess", "it was the white rabbit", "the caterpillar",
    "and so", "the hatter", "we’re all mad here",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def gen(loaded: LoadedModel):
    # fp32, not auto: fixed rng seeds must give the same texts on every machine (auto may run int8,
    # which writes other texts from the same seeds; tests/test_precision.py covers int8)
    with Generator(loaded, precision="fp32") as generator:
        yield generator


def read_all(streams: list) -> list[str]:
    """Read several sync streams at once, one thread each (so they all run in one batch)."""
    texts = [""] * len(streams)

    def read(i: int) -> None:
        texts[i] = "".join(streams[i])
    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(streams))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return texts


class CountingStep:
    """Wraps the Generator's FastStep: records the batch size of every generation step and the
    shape of every priming read, and can make each step take `delay` seconds longer."""

    def __init__(self, step: FastStep, delay: float = 0.0) -> None:
        self.step, self.delay, self.sizes, self.reads = step, delay, [], []

    def read(self, ids: torch.Tensor, state=None):
        self.reads.append(tuple(ids.shape))
        return self.step.read(ids, state)

    def __call__(self, ids: torch.Tensor, state):
        self.sizes.append(len(ids))
        time.sleep(self.delay)
        return self.step(ids, state)


def wait_until(condition, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_stream_yields_exactly_length_characters_in_several_chunks(gen):
    chunks = list(gen.stream("alice", 600, rng_seed=1))
    assert len("".join(chunks)) == 600
    assert len(chunks) > 1  # streamed as produced, not handed over at the end


def test_same_rng_seed_gives_the_same_text_and_another_seed_does_not(gen):
    first = gen.generate("the queen", 300, rng_seed=7)
    assert gen.generate("the queen", 300, rng_seed=7) == first
    assert gen.generate("the queen", 300, rng_seed=8) != first


def test_greedy_is_temperature_zero_and_matches_step_by_step_argmax(gen, loaded):
    text = gen.generate("alice was", 150, temperature=0, rng_seed=1, case="lower")  # as the model writes it
    assert gen.generate("alice was", 150, sampling=Sampling(temperature=0, case="lower"), rng_seed=2) == text
    # reference: the model's own forward + step, always the likeliest known character
    model, vocab = loaded.model, loaded.vocab
    with torch.inference_mode():
        logits, state = model(torch.tensor([vocab.encode("alice was")]))
        logits, out = logits[:, -1], []
        for _ in range(150):
            logits[:, vocab.unknown_id] = float("-inf")
            next_id = logits.argmax(-1)
            out.append(vocab.chars[int(next_id)])
            logits, state = model.step(next_id, state)
    assert text == "".join(out)


def test_seed_is_normalised_like_training_text(gen):
    assert gen.prepare_seed("ALICE\r\nSaid") == "alice\nsaid"
    assert gen.generate("ALICE\r\nSaid", 100, rng_seed=3) == gen.generate("alice\nsaid", 100, rng_seed=3)


def test_unknown_characters_in_a_seed_are_folded_never_raised(gen):
    seed = "Ünïcode ☃ 😀 中文 \x00\x1a «quoted» — ok"
    text = gen.generate(seed, 200, rng_seed=1)
    assert len(text) == 200
    assert UNKNOWN_CHAR not in text


def test_the_unknown_symbol_is_never_generated_even_when_wild(gen):
    text = gen.generate("😀😀😀 ☃☃☃", 2000, temperature=3.0, top_p=1.0, rng_seed=5)
    assert UNKNOWN_CHAR not in text and len(text) == 2000


def test_empty_seed_starts_as_at_the_beginning_of_a_paragraph(gen):
    assert gen.prepare_seed("") == PARAGRAPH
    assert gen.generate("", 200, rng_seed=4) == gen.generate(PARAGRAPH, 200, rng_seed=4)


def test_a_10000_character_seed_is_read_from_its_tail(gen):
    seed = "".join(f"line {i}: the queen said to alice. " for i in range(400))[-10_000:]
    assert len(seed) == 10_000 and gen.max_seed_chars == DEFAULT_MAX_SEED_CHARS == 400
    assert gen.prepare_seed(seed) == seed[-400:]
    assert gen.generate(seed, 200, rng_seed=2) == gen.generate(seed[-400:], 200, rng_seed=2)


def test_the_seed_limit_is_configurable(loaded):
    with Generator(loaded, max_seed_chars=50) as short:
        assert short.prepare_seed("x" * 30 + "y" * 60) == "y" * 50


def test_zero_length_gives_nothing_and_holds_no_slot(gen):
    assert gen.generate("alice", 0) == ""
    assert gen.active_streams == 0


def test_default_settings_do_not_loop_across_20_seeds(gen):
    """No 40-character string appears 3 or more times in any 1,000-character sample (defaults)."""
    texts = read_all([gen.stream(seed, 1000, rng_seed=i) for i, seed in enumerate(LOOP_SEEDS)])
    for seed, text in zip(LOOP_SEEDS, texts, strict=True):
        assert len(text) == 1000
        repeated, count = Counter(text[i:i + 40] for i in range(len(text) - 39)).most_common(1)[0]
        assert count < 3, f"seed {seed!r} loops on {repeated!r} ({count} times)"


SETTINGS = [Sampling(), Sampling(temperature=0), Sampling(1.2, 10, 1.0), Sampling(0.5, 0, 0.8),
            Sampling(1.0, 0, 1.0), Sampling(0.9, 5, 0.9)]


def test_concurrent_streams_share_each_step_and_write_what_each_writes_alone(loaded):
    seeds = ["alice", "the king", "", "“why?”", "x" * 500, "the dormouse"]
    with Generator(loaded) as own:
        counting = own.wrap_step(CountingStep)
        batch_sizes = counting.sizes
        jobs = [{"seed": s, "sampling": c, "rng_seed": i} for i, (s, c) in enumerate(zip(seeds, SETTINGS, strict=True))]
        alone = [own.generate(length=400, **job) for job in jobs]
        solo_steps = len(batch_sizes)
        streams = [own.stream(length=400, **job) for job in jobs]
        firsts = []
        for stream in streams:  # staggered: streams join (and leave) the batch at different steps
            firsts.append(next(stream))
            time.sleep(0.003)
        assert own.active_streams == len(streams)
        rest = read_all(streams)
    assert [a + b for a, b in zip(firsts, rest, strict=True)] == alone
    together = batch_sizes[solo_steps:]
    assert max(together) == len(streams)  # one forward over all of them at once
    assert sum(together) == solo_steps and len(together) < solo_steps / 2


def test_async_streams_write_what_each_writes_alone(gen):
    alone = [gen.generate("alice", 400, sampling=c, rng_seed=i) for i, c in enumerate(SETTINGS[:4])]

    async def read(i: int) -> str:
        return "".join([c async for c in gen.astream("alice", 400, sampling=SETTINGS[i], rng_seed=i)])

    async def main():
        return await asyncio.gather(*(read(i) for i in range(4)))
    assert asyncio.run(main()) == alone


def test_async_readers_never_block_the_event_loop(loaded):
    with Generator(loaded) as slow:
        slow.wrap_step(lambda step: CountingStep(step, delay=0.02))  # a model 100x bigger

        async def main():
            gaps, running = [], True

            async def ticker():
                last = time.perf_counter()
                while running:
                    await asyncio.sleep(0.001)
                    gaps.append(time.perf_counter() - last)
                    last = time.perf_counter()

            async def read(seed: str) -> str:
                return "".join([c async for c in slow.astream(seed, 15)])
            tick = asyncio.create_task(ticker())
            texts = await asyncio.gather(read("alice"), read("the queen"))
            running = False
            await tick
            return texts, gaps

        texts, gaps = asyncio.run(main())
    assert [len(t) for t in texts] == [15, 15]
    # a reader that waited for the model on the loop would stall it ~20 ms per character
    assert len(gaps) > 50 and statistics.median(gaps) < 0.01


def test_closing_a_stream_frees_its_slot_at_once_and_others_carry_on(gen):
    expected = gen.generate("the queen", 600, rng_seed=2)
    streams = [gen.stream(s, 600, rng_seed=i) for i, s in enumerate(["alice", "the cat", "the queen"])]
    firsts = [next(s) for s in streams]
    assert gen.active_streams == 3
    streams[0].close()
    assert gen.active_streams == 2  # counted free the moment the reader lets go
    assert next(streams[0], None) is None
    assert wait_until(lambda: gen.rows_in_batch <= 2)  # and out of the worker's batch by its next step
    del streams[1]  # dropping an unfinished iterator frees its slot too
    assert gen.active_streams == 1
    assert firsts[2] + "".join(streams[-1]) == expected
    assert gen.active_streams == 0


def test_cancelling_an_async_reader_frees_its_slot(gen):
    async def main():
        started = asyncio.Event()

        async def read():
            async for _ in gen.astream("alice", 100_000):
                started.set()
        task = asyncio.create_task(read())
        await started.wait()
        assert gen.active_streams == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert gen.active_streams == 0
        async for _ in gen.astream("alice", 100_000):
            break  # leaving an `async for` early frees the slot as well
        assert gen.active_streams == 0

    asyncio.run(main())
    assert wait_until(lambda: not gen.rows_in_batch)


def test_first_character_comes_within_50_ms_of_the_request(gen):
    delays = []
    for i in range(5):
        start = time.perf_counter()
        stream = gen.stream("alice was beginning to get very tired", 50, rng_seed=i)
        next(stream)
        delays.append(time.perf_counter() - start)
        stream.close()
    assert statistics.median(delays) < 0.05


def test_closing_the_generator_ends_its_streams(loaded):
    with Generator(loaded) as own:
        stream = own.stream("alice", 100_000)
        next(stream)
        own.close()
        with pytest.raises(GeneratorClosed):
            "".join(stream)
        with pytest.raises(GeneratorClosed):
            own.generate("alice", 10)
    assert own.active_streams == 0


def test_a_dropped_generator_stops_its_worker_once_its_last_stream_goes(loaded):
    before = set(threading.enumerate())
    dropped = Generator(loaded)
    (worker,) = set(threading.enumerate()) - before
    stream = dropped.stream("alice", 100_000)
    next(stream)
    del dropped
    assert next(stream)  # a stream keeps its Generator going
    del stream
    gc.collect()
    worker.join(timeout=10)
    assert not worker.is_alive()


def test_auto_device_is_the_gpu_when_there_is_one(loaded):
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with Generator(BUNDLED_MODEL, device="auto") as auto:
        assert auto.loaded.device.type == pick_device("auto").type
        assert len(auto.generate("alice", 20)) == 20
