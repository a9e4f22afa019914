"""Best-of-K's numbers (engine/bestof.py): one default and one set of bounds for every front end, and
the load rule that lowers the default K while several streams write at once."""

from __future__ import annotations

import pytest

from bot.gate import Gate
from bot.settings import Settings, SettingsError, load_settings
from bot.teller import Teller
from engine import Generator
from engine.bestof import BEST_OF_RULE, BUSY_FLOOR, DEFAULT_BEST_OF, MAX_BEST_OF, best_of_in_use
from engine.modelfolder import LoadedModel
from engine.sampling import Sampling

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_every_front_end_starts_from_the_one_default_and_the_one_rule():
    assert DEFAULT_BEST_OF >= 16 and MAX_BEST_OF == 64
    assert Settings().best_of == load_settings(environ={}, dotenv=None).best_of == DEFAULT_BEST_OF
    with pytest.raises(SettingsError) as error:
        Settings().with_overrides(best_of=MAX_BEST_OF + 1)
    assert error.value.rule == BEST_OF_RULE
    with pytest.raises(ValueError, match=BEST_OF_RULE.replace("(", r"\(").replace(")", r"\)")):
        Sampling(best_of=0)


@pytest.mark.parametrize(("streams", "k"), [(0, 16), (1, 16), (2, 16), (3, 10), (4, 8), (5, 8), (40, 8)])
def test_the_load_rule_lowers_the_default_k_with_the_streams_writing_never_below_8(streams: int, k: int):
    assert best_of_in_use(16, streams) == k


def test_the_load_rule_never_raises_k_and_leaves_a_stream_alone_at_the_default():
    assert best_of_in_use(4, 10) == 4  # a default below the floor stays
    assert best_of_in_use(64, 1) == 64
    assert best_of_in_use(64, 2) == 16
    assert all(best_of_in_use(DEFAULT_BEST_OF, n) >= min(DEFAULT_BEST_OF, BUSY_FLOOR) for n in range(1, 100))


def test_discord_replies_use_the_k_of_the_load_rule_while_streams_are_writing(loaded: LoadedModel):
    with Generator(loaded, precision="fp32") as gen:
        teller = Teller({"alice": gen}, Gate(0, 10), Settings(), chains=None)
        assert teller.sampling_now("alice").best_of == DEFAULT_BEST_OF
        streams = [gen.stream("the queen said", 10_000, best_of=1) for _ in range(3)]
        for stream in streams:
            next(stream)  # writing now
        assert gen.active_streams == 3
        assert teller.sampling_now("alice").best_of == best_of_in_use(DEFAULT_BEST_OF, 4) == 8
        for stream in streams:
            stream.close()
