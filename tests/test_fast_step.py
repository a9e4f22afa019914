"""The fp32 fast step (engine/steps/fp32.py): the same numbers as the model's own step, for every
shape, and seeds that arrive together primed as each would be alone."""

from __future__ import annotations

import pytest
import torch
from test_generator import CountingStep, read_all

from engine import Generator
from engine.model import CharLSTM, ModelConfig
from engine.steps.fp32 import FastStep

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_fast_step_matches_the_model_step(loaded, batch, packed):
    model = loaded.model
    fast = FastStep(model)
    if packed:  # this machine's torch has oneDNN: the prepacked path is the one generation uses
        assert fast.packs or not torch.backends.mkldnn.is_available()
    else:
        fast.packs = {}  # the path for GPUs and builds without oneDNN
    generator = torch.Generator().manual_seed(batch)
    ids = torch.randint(1, model.config.vocab_size, (batch,), generator=generator)
    state = tuple(torch.randn(model.config.layers, batch, model.config.hidden, generator=generator) for _ in "hc")
    seeds = torch.randint(1, model.config.vocab_size, (batch, 30), generator=generator)
    with torch.inference_mode():
        logits, (h, c) = model.step(ids, state)
        fast_logits, (fast_h, fast_c) = fast(ids, state)
        read_logits, (read_h, read_c) = model(seeds)
        fast_read_logits, (fast_read_h, fast_read_c) = fast.read(seeds)
    for got, want in ((fast_logits, logits), (fast_h, h), (fast_c, c), (fast_read_logits, read_logits[:, -1]),
                      (fast_read_h, read_h), (fast_read_c, read_c)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("packed", [True, False])
def test_fast_step_scores_whole_sequences_as_the_model_does(loaded, packed):
    """`forward` is part of the Step protocol: train.eval scores fp32 through it as it scores int8."""
    model = loaded.model
    fast = FastStep(model)
    if not packed:
        fast.packs = {}
    generator = torch.Generator().manual_seed(11)
    seeds = torch.randint(1, model.config.vocab_size, (3, 40), generator=generator)
    state = tuple(torch.randn(model.config.layers, 3, model.config.hidden, generator=generator) for _ in "hc")
    with torch.inference_mode():
        want, (want_h, want_c) = model(seeds, state)
        got, (got_h, got_c) = fast.forward(seeds, state)
    assert got.shape == want.shape == (3, 40, model.config.vocab_size)
    for a, b in ((got, want), (got_h, want_h), (got_c, want_c)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("packed", [True, False])
def test_seeds_arriving_together_are_primed_together_as_each_would_be_alone(loaded, packed):
    seeds = ["alice", "the queen said", "x", "alice", "a much longer seed than all the others"]
    with Generator(loaded) as own:
        if not packed:
            own.model_step.packs = {}  # the model's own read and step, as on a GPU
        alone = [own.generate(seed, 200, rng_seed=i) for i, seed in enumerate(seeds)]
        counting = own.wrap_step(CountingStep)
        streams = [own.stream(seed, 200, rng_seed=i) for i, seed in enumerate(seeds)]
        with own.together():  # the worker waits for this lock: every stream joins before it looks
            for stream in streams:
                stream.begin()
        texts = read_all(streams)
    assert texts == alone
    # one pass per distinct seed length (1, 5, 14, 38), the batch shrinking as seeds end; the two
    # streams of "alice" (same seed, no start state) are read as one row
    assert counting.reads == [(4, 1), (3, 4), (2, 9), (1, 24)]


@pytest.mark.parametrize("layers", [1, 3])
def test_fast_step_fits_models_of_other_shapes(layers):
    torch.manual_seed(layers)
    model = CharLSTM(ModelConfig(vocab_size=30, embed=8, hidden=24, layers=layers)).eval()
    fast = FastStep(model)
    assert len(fast.packs.get(1, [])) == (layers if torch.backends.mkldnn.is_available() else 0)
    ids = torch.randint(1, 30, (3, 17))
    with torch.inference_mode():
        logits, state = model(ids)
        fast_logits, fast_state = fast.read(ids)
        torch.testing.assert_close(fast_logits, logits[:, -1], rtol=1e-4, atol=1e-5)
        step_ids = torch.tensor([1, 2, 3])
        for got, want in zip(fast(step_ids, fast_state), model.step(step_ids, state), strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
