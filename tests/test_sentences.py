"""Best-of-K sentences (engine/sentences.py): a stream written sentence by sentence, each kept from K
candidates; the same text alone or batched, a story that goes on from exactly the text shown, whole
sentences at the end, and no page layout (engine/layout.py) in what any stream writes."""

from __future__ import annotations

import asyncio
import re

import pytest
from together import write_together

from engine import Conversation, Generator
from engine.bestof import DEFAULT_BEST_OF
from engine.endings import longest
from engine.modelfolder import LoadedModel
from engine.sampling import Sampling
from engine.sentences import SentenceEnding, SentenceWriter, repeated_share, score, word_pairs

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

BEST_OF_3 = Sampling(best_of=3)
BEST_OF_16 = Sampling(best_of=16)


@pytest.fixture(scope="module")
def gen(loaded: LoadedModel):
    with Generator(loaded, precision="fp32") as generator:
        yield generator


def ends_a_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?][”’\"')]*$", text))


def test_best_of_1_is_plain_sampling_and_best_of_k_writes_other_text(gen: Generator):
    plain = gen.generate("the queen said", 200, rng_seed=5, exact=False)
    assert gen.generate("the queen said", 200, rng_seed=5, exact=False, sampling=Sampling(best_of=1)) == plain
    assert gen.generate("the queen said", 200, rng_seed=5, exact=False, best_of=3) != plain


def test_the_same_seed_settings_and_rng_seed_write_the_same_text(gen: Generator):
    first = gen.generate("alice was", 250, rng_seed=3, sampling=BEST_OF_3)
    assert gen.generate("alice was", 250, rng_seed=3, sampling=BEST_OF_3) == first
    assert gen.generate("alice was", 250, rng_seed=4, sampling=BEST_OF_3) != first


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_best_of_k_streams_write_what_each_writes_alone_when_batched(request, precision: str):
    gen = request.getfixturevalue("gen" if precision == "fp32" else "int8_gen")
    settings = [BEST_OF_3, Sampling(best_of=4, temperature=1.0), Sampling(), Sampling(best_of=2, top_k=5)]
    seeds = ["alice", "the king said", "", "“why?”"]
    alone = [gen.generate(seed, 300, sampling=s, rng_seed=i, exact=False)
             for i, (seed, s) in enumerate(zip(seeds, settings, strict=True))]

    async def read(i: int) -> str:
        return "".join([c async for c in gen.astream(seeds[i], 300, sampling=settings[i], rng_seed=i, exact=False)])

    async def main():
        return await asyncio.gather(*(read(i) for i in range(len(seeds))))
    assert asyncio.run(main()) == alone


def test_the_default_k_is_16_and_writes_the_same_text_again_and_alone_or_batched(int8_gen: Generator):
    """At K = 16 (the default) rounds end before their slowest candidates do; what ends a round is
    decided from the round's own rows, so the text is the same again, and alone or beside others."""
    assert DEFAULT_BEST_OF == 16
    seeds = ["the queen said", "alice was beginning to get very tired", "“who are you?” said the caterpillar"]
    alone = [int8_gen.generate(seed, 160, sampling=BEST_OF_16, rng_seed=i, exact=False) for i, seed in enumerate(seeds)]
    assert int8_gen.generate(seeds[0], 160, sampling=BEST_OF_16, rng_seed=0, exact=False) == alone[0]
    assert int8_gen.generate(seeds[0], 160, sampling=BEST_OF_16, rng_seed=7, exact=False) != alone[0]

    async def read(i: int, sampling: Sampling, rng_seed: int) -> str:
        return "".join([c async for c in int8_gen.astream(seeds[i % 3], 160, sampling=sampling, rng_seed=rng_seed,
                                                           exact=False)])

    async def main():  # beside two streams at K = 16 and one at K = 3 started together
        return await asyncio.gather(*(read(i, BEST_OF_16, i) for i in range(3)), read(0, BEST_OF_3, 9))
    assert asyncio.run(main())[:3] == alone


def test_a_round_stops_waiting_for_beaten_candidates_and_never_keeps_one(int8_gen: Generator, monkeypatch):
    """Once half the round has ended, candidates doing worse drop out: a round takes fewer
    steps than its longest candidate would, and the sentence kept is always one that ended by itself."""
    rounds: list[list] = []
    keep = SentenceWriter._keep

    def watch(writer: SentenceWriter, now) -> None:
        rounds.append([c.ending for c in now.candidates])
        keep(writer, now)
    monkeypatch.setattr(SentenceWriter, "_keep", watch)  # looks at each round as it ends, changes nothing
    int8_gen.generate("the queen said", 400, sampling=BEST_OF_16, rng_seed=3, exact=False)
    dropped = [e for endings in rounds for e in endings if e.dropped]
    assert rounds and dropped, "no candidate was ever beaten"
    assert all(not e.complete for e in dropped)
    for endings in rounds:
        finished = [e for e in endings if not e.dropped]
        assert len(finished) >= len(endings) // 2


def test_a_story_goes_on_from_exactly_the_text_a_best_of_k_turn_showed(gen: Generator):
    """The next turn from the cached state writes what a re-read of the transcript writes."""
    for rng_seed, exact in ((1, False), (2, True)):
        story = Conversation.of("“off with her head!” the queen shouted")
        story.add(gen.generate(story, 120, rng_seed=rng_seed, exact=exact, sampling=BEST_OF_3), by="model")
        story.add("said alice")
        story.add(gen.generate(story, 120, rng_seed=10 + rng_seed, exact=exact, sampling=BEST_OF_3), by="model")
        cached = gen.generate(story, 100, rng_seed=20 + rng_seed, exact=exact, sampling=BEST_OF_3)
        gen.states.clear()
        assert gen.generate(story, 100, rng_seed=20 + rng_seed, exact=exact, sampling=BEST_OF_3) == cached


def test_continuations_end_at_a_sentence_end_within_the_overshoot(gen: Generator):
    texts = write_together(gen, [{"seed": "the hatter", "length": 200, "rng_seed": i, "exact": False,
                                  "sampling": BEST_OF_3} for i in range(20)])
    assert all(len(t) <= longest(200, exact=False) for t in texts)
    assert sum(map(ends_a_sentence, texts)) >= 19, [t[-40:] for t in texts if not ends_a_sentence(t)]


def test_exact_still_cuts_exactly(gen: Generator):
    for i in range(5):
        assert len(gen.generate("the hatter", 137, rng_seed=i, sampling=BEST_OF_3)) == 137


def test_an_empty_seed_never_writes_only_white_space(gen: Generator):
    for sampling in (Sampling(), BEST_OF_3):
        jobs = [{"seed": "", "length": 40, "rng_seed": rng_seed, "sampling": sampling} for rng_seed in range(40)]
        for rng_seed, text in enumerate(write_together(gen, jobs)):
            assert text.strip(), (sampling, rng_seed)
            assert not text[0].isspace()


def test_no_layout_junk_from_any_seed(gen: Generator):
    """No run of spaces past the books' own, no second blank line, no ornament rows or chapter headings."""
    jobs = [{"seed": seed, "length": 300, "rng_seed": rng_seed, "sampling": Sampling(temperature=1.2, top_p=1.0)}
            for rng_seed in range(6) for seed in ("", "the end of the chapter.\n\n")]
    for text in write_together(gen, jobs):
        assert "                         " not in text  # 25 spaces
        assert not re.search(r"\n[ \t]*\n[ \t]*\n", text)
        assert not re.search(r"(?m)^[ \t]*[*=~#]", text)
        assert not re.search(r"(?im)^[ \t]*chapter[ \t]+[0-9ivxlc]", text)


def test_a_candidate_ends_after_its_sentence_and_keeps_the_white_space_apart():
    ending = SentenceEnding(cap=100)
    done = [ending.add(c)[1] for c in "“no,” said alice. "]
    assert done[-1] and not any(done[:-1])
    assert "".join(ending.text[:ending.kept]) == "“no,” said alice." and ending.complete
    capped = SentenceEnding(cap=5)
    assert [capped.add(c)[1] for c in "abcde"][-1] and not capped.complete


def test_the_score_prefers_the_likelier_sentence_and_penalises_repeats():
    history = set(word_pairs("the queen said to the king"))
    penalty = Sampling().repeat_penalty
    assert score(-5.0, "alice ran off", history, penalty) > score(-9.0, "alice ran off", history, penalty)
    assert repeated_share("the queen said so", history) == pytest.approx(2 / 3)
    assert score(-5.0, "the queen said so", history, penalty) < score(-5.0, "a dormouse slept on", history, penalty)
    assert word_pairs("Alice’s cat ran") == [("alice’s", "cat"), ("cat", "ran")]


@pytest.mark.parametrize("bad", [0, -1, 65, 2.5])
def test_bad_best_of_is_a_one_line_error(bad):
    with pytest.raises((ValueError, TypeError)) as error:
        Sampling(best_of=bad)
    assert "best_of" in str(error.value) and "\n" not in str(error.value)


def test_the_repeat_penalty_keeps_sentences_whose_word_pairs_are_new(int8_gen: Generator):
    """Sampling.repeat_penalty reaches best-of's score: with a heavy one, the sentences kept share
    fewer word pairs with a story that says the same thing over and over than with none."""
    story = ("“i don’t know,” said alice. “i don’t know what you mean,” said the hatter. "
             "“i don’t know,” said the king. ") * 3

    def repeated(penalty: float) -> float:
        texts = [int8_gen.generate(story, 200, rng_seed=i, exact=False, best_of=8, repeat_penalty=penalty)
                 for i in range(3)]
        return sum(repeated_share(text, set(word_pairs(story))) for text in texts)
    assert repeated(10.0) < repeated(0.0)
