"""Conversations in the engine: the next turn starts from the state the last one ended in, an evicted
state is re-read from the transcript and writes the same, and the state cache keeps to its bound."""

from __future__ import annotations

import pytest
import torch

from engine import Conversation, Generator
from engine.conversation import MODEL, PERSON, Snapshot, StateCache, state_key
from engine.modelfolder import LoadedModel
from engine.state import RowState

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


# one precision for the whole module: auto may choose another in another Generator (the eviction
# test runs in int8 too, where seeds are read by the C++ int8 LSTM and written by Python steps)
FP32 = "fp32"


@pytest.fixture(scope="module")
def gen(loaded: LoadedModel):
    with Generator(loaded, precision=FP32) as generator:
        yield generator


class Reads:
    """Wraps the worker's model step: the shape of every read (priming) pass."""

    def __init__(self, step) -> None:
        self.step, self.shapes = step, []

    def read(self, ids: torch.Tensor, state=None):
        self.shapes.append(tuple(ids.shape))
        return self.step.read(ids, state)

    def __call__(self, ids: torch.Tensor, state):
        return self.step(ids, state)


@pytest.fixture
def reads(gen: Generator):
    gen.states.clear()
    spy = gen.wrap_step(Reads)
    yield spy
    gen.wrap_step(lambda _: spy.step)


def take_turn(gen: Generator, conversation: Conversation, length: int, rng_seed: int, exact: bool = False) -> str:
    text = gen.generate(conversation, length, rng_seed=rng_seed, exact=exact)
    conversation.add(text, MODEL)
    return text


def test_a_person_line_joins_the_story_with_a_space_and_the_models_text_joins_as_written():
    story = Conversation()
    story.add("alice was")
    story.add(" beginning", MODEL)
    story.add("the queen")
    story.add("\nsaid", PERSON)
    story.add("", PERSON)  # nothing: no turn
    assert story.text == "alice was beginning the queen\nsaid"
    assert [t.by for t in story.turns] == [PERSON, MODEL, PERSON, PERSON]
    assert story.undo().text == "\nsaid" and len(story) == len("alice was beginning the queen")
    with pytest.raises(ValueError, match="person"):
        story.add("x", "narrator")


def test_the_next_turn_reads_only_the_new_text(gen: Generator, reads: Reads):
    story = Conversation.of("alice was beginning to get very tired of sitting by her sister on the bank")
    take_turn(gen, story, 120, rng_seed=1)
    assert reads.shapes == [(1, len(story.turns[0].text))]  # the seed, from an empty state
    story.add("and then the queen shouted")
    take_turn(gen, story, 120, rng_seed=2)
    # the person's line (with its space), plus at most the last character written, never the story
    assert reads.shapes[1] in [(1, len(" and then the queen shouted")), (1, len(" and then the queen shouted") + 1)]


def test_going_on_without_new_text_reads_at_most_one_character(gen: Generator, reads: Reads):
    story = Conversation.of("the mock turtle sighed")
    take_turn(gen, story, 60, rng_seed=3, exact=True)  # ends on a drawn, unread character
    take_turn(gen, story, 60, rng_seed=4, exact=True)
    assert reads.shapes[1:] == [(1, 1)]


def test_retry_starts_from_where_the_last_turn_started_without_reading(gen: Generator, reads: Reads):
    story = Conversation.of("down the rabbit hole")
    first = take_turn(gen, story, 80, rng_seed=5)
    story.undo()
    again = take_turn(gen, story, 80, rng_seed=5)
    assert len(reads.shapes) == 1  # only the first turn read anything
    assert again == first  # the same draws from the same state


@pytest.mark.parametrize("best_of", [1, 4])
def test_a_stream_stopped_early_leaves_where_it_started_cached(gen: Generator, reads: Reads, best_of: int):
    """A reader that lets go before the end (a dialogue answer stops where its speech closes) still
    leaves the state its writing started from: a stream from there reads nothing again."""
    story = Conversation.of("the hatter opened his eyes very wide")

    def story_reads() -> int:  # (a best-of stream's next round, begun before it is closed, reads one character)
        return sum(1 for shape in reads.shapes if shape[1] > 1)

    stream = gen.stream(story, 400, rng_seed=6, best_of=best_of)
    first = next(iter(stream))
    stream.close()
    assert first and story_reads() == 1
    again = gen.stream(story, 400, rng_seed=6, best_of=best_of)
    assert next(iter(again))[:1] == first[:1]
    again.close()
    assert story_reads() == 1  # the second stream did not read the story: it began from the cached state


@pytest.mark.parametrize("precision, exact", [("fp32", False), ("fp32", True), ("int8", False)])
def test_an_evicted_conversation_writes_what_the_cached_state_would_have(request, precision: str, exact: bool):
    gen = request.getfixturevalue("gen" if precision == "fp32" else "int8_gen")
    gen.states.clear()
    reads = gen.wrap_step(Reads)
    try:
        evicted_writes_as_cached(gen, reads, exact)
    finally:
        gen.wrap_step(lambda _: reads.step)


def evicted_writes_as_cached(gen: Generator, reads: Reads, exact: bool) -> None:
    for rng_seed in range(4):
        story = Conversation.of("“off with her head!” the queen shouted")
        take_turn(gen, story, 90, rng_seed=10 + rng_seed, exact=exact)
        story.add("said alice")
        take_turn(gen, story, 90, rng_seed=20 + rng_seed, exact=exact)
        before = len(reads.shapes)
        cached = gen.generate(story, 90, rng_seed=30 + rng_seed, exact=exact)
        assert all(shape[1] <= 1 for shape in reads.shapes[before:])  # it did come from the cache
        gen.states.clear()
        reread = gen.generate(story, 90, rng_seed=30 + rng_seed, exact=exact)
        assert reads.shapes[-1] == (1, len(story.text))  # the whole transcript, from an empty state
        assert reread == cached


def test_a_story_longer_than_the_seed_limit_is_reread_from_its_tail(loaded: LoadedModel):
    with Generator(loaded, max_seed_chars=150, precision=FP32) as short:
        reads = short.wrap_step(Reads)
        story = Conversation.of("the king said to the jury")
        for turn in range(3):
            take_turn(short, story, 70, rng_seed=turn)
            story.add("and so")
        assert len(story.text) > 150
        assert all(shape[1] < 40 for shape in reads.shapes[1:])  # every later turn went on from its state
        short.states.clear()
        short.generate(story, 20, rng_seed=9)
        assert reads.shapes[-1] == (1, 150)


def test_a_story_started_by_the_model_goes_on_from_its_state(gen: Generator, reads: Reads):
    story = Conversation()
    take_turn(gen, story, 60, rng_seed=7)  # from nothing: a new paragraph
    take_turn(gen, story, 60, rng_seed=8)
    assert reads.shapes[0] == (1, 2) and all(shape[1] <= 1 for shape in reads.shapes[1:])


def test_the_cache_keeps_to_its_bound_and_drops_the_least_recently_used(loaded: LoadedModel):
    config = loaded.model.config
    state = RowState(torch.zeros(config.layers, config.hidden), torch.zeros(config.layers, config.hidden),
                     torch.zeros(config.vocab_size))
    per_state = Snapshot(state).nbytes
    # the figure the docs give: h and c (layers x hidden floats each) and the logits, plus a fixed allowance
    assert per_state - 200 == 4 * (2 * config.layers * config.hidden + config.vocab_size) == 8844
    cache = StateCache(3 * per_state)
    keys = [state_key(f"story {i}", 100) for i in range(4)]
    for key in keys[:3]:
        cache.put(key, Snapshot(state))
    assert cache.get(keys[0]) is not None  # now the most recently used
    cache.put(keys[3], Snapshot(state))
    assert len(cache) == 3 and cache.bytes <= cache.max_bytes
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None
    off = StateCache(0)
    off.put(keys[0], Snapshot(state))
    assert len(off) == 0


def test_a_generator_without_a_cache_still_continues_conversations(loaded: LoadedModel):
    with Generator(loaded, state_cache_bytes=0, precision=FP32) as uncached:
        story = Conversation.of("the hatter")
        take_turn(uncached, story, 40, rng_seed=1)
        story.add("and the march hare")
        text = uncached.generate(story, 40, rng_seed=2)
        assert len(uncached.states) == 0 and len(text) == 40


def test_stories_from_cached_states_write_the_same_batched_with_others(gen: Generator, reads: Reads):
    """A fresh seed, a story going on with a new line and a story going on as it stands, arriving
    together: each writes what it writes alone."""
    going_on = Conversation.of("the duchess sneezed")
    take_turn(gen, going_on, 50, rng_seed=1, exact=True)
    with_line = Conversation.of("the hatter")
    take_turn(gen, with_line, 50, rng_seed=2)
    with_line.add("and the dormouse")
    asks = [("a fresh seed", 3), (going_on, 4), (with_line, 5)]
    alone = [gen.generate(seed, 60, rng_seed=r, exact=False) for seed, r in asks]
    streams = [gen.stream(seed, 60, rng_seed=r, exact=False) for seed, r in asks]
    with gen.together():  # the worker waits for this lock: every stream joins before it looks
        for stream in streams:
            stream.begin()
    assert ["".join(stream) for stream in streams] == alone
