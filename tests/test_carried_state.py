"""A batch's state carries the int8 step's products for the next step (engine/state.py CarriedState):
rows leaving keep theirs, rows joining get theirs computed alone, and the numbers are those of a
state computed afresh, to the bit."""

from __future__ import annotations

import pytest
import torch

import engine.steps.int8 as int8
from engine import Generator
from engine.model import CharLSTM, ModelConfig
from engine.state import CarriedState, state_joined, state_rows
from engine.steps.build import build_step, unavailable

CPU = torch.device("cpu")
pytestmark = pytest.mark.skipif(unavailable("int8", CPU) is not None, reason=f"int8: {unavailable('int8', CPU)}")


@pytest.fixture(scope="module")
def step():
    torch.manual_seed(3)
    model = CharLSTM(ModelConfig(vocab_size=30, embed=8, hidden=48, layers=2)).eval()
    return build_step(model, "int8")


def products_rows(monkeypatch, step) -> list[int]:
    """Rows of every recurrent product the step computes from now on (not those a state carries)."""
    rows: list[int] = []
    linear = int8.linear

    def counting(x, packed):
        if any(packed is p for p in step.recurrent):
            rows.append(x.shape[0])
        return linear(x, packed)

    monkeypatch.setattr(int8, "linear", counting)
    return rows


def test_rows_that_stay_keep_their_products_and_step_as_if_computed_afresh(step, monkeypatch):
    ids = torch.tensor([3, 7, 1, 12, 5])
    with torch.inference_mode():
        _, state = step(ids, step.model.zero_state(5))
        _, state = step(ids.flip(0), state)
        assert isinstance(state, CarriedState) and state.carried == 5
        index = torch.tensor([0, 2, 3])
        kept = state_rows(state, index)
        plain = (state[0][:, index].contiguous(), state[1][:, index].contiguous())
        computed = products_rows(monkeypatch, step)
        logits, after = step(ids[index], kept)
        assert computed == []  # nothing recomputed for the rows that stayed
        fresh_logits, fresh = step(ids[index], plain)
        assert computed == [3, 3]  # a plain state: each layer's product for every row
    assert torch.equal(logits, fresh_logits) and torch.equal(after[0], fresh[0]) and torch.equal(after[1], fresh[1])


def test_rows_that_join_get_their_products_computed_alone(step, monkeypatch):
    ids = torch.tensor([3, 7, 1])
    with torch.inference_mode():
        _, state = step(ids, step.model.zero_state(3))
        _, newcomers = step(torch.tensor([9, 2]), step.model.zero_state(2))
        h, c = torch.cat([state[0], newcomers[0]], 1), torch.cat([state[1], newcomers[1]], 1)
        joined = state_joined(state, h, c)
        assert isinstance(joined, CarriedState) and joined.carried == 3
        leaving = state_rows(joined, torch.tensor([1, 3, 4]))  # one old row, both newcomers
        assert leaving.carried == 1
        computed = products_rows(monkeypatch, step)
        five = torch.tensor([4, 4, 8, 1, 6])
        logits, after = step(five, joined)
        assert computed == [2, 2]  # the newcomers' products only
        fresh_logits, fresh = step(five, (h, c))
        three_logits, _ = step(five[[1, 3, 4]], leaving)
    assert torch.equal(logits, fresh_logits) and torch.equal(after[0], fresh[0]) and torch.equal(after[1], fresh[1])
    assert torch.equal(three_logits, fresh_logits[[1, 3, 4]])


def test_best_of_rounds_hand_the_step_carried_state_as_candidates_end():
    """In a best-of stream, candidates end one by one: the step after each end is handed the products
    of the rows that stay (before, every such step recomputed them for all rows)."""

    class Spy:
        def __init__(self, step):
            self.step, self.handed = step, []

        def __call__(self, ids, state):
            self.handed.append((isinstance(state, CarriedState) and state.carried, len(ids)))
            return self.step(ids, state)

        def read(self, ids, state=None):
            return self.step.read(ids, state)

    with Generator(precision="int8") as gen:
        spy = gen.wrap_step(Spy)
        text = gen.generate("alice was beginning to get very tired of sitting by her sister", 300,
                            best_of=8, rng_seed=1, exact=False)
    assert text
    steps = zip(spy.handed[1:], spy.handed[:-1], strict=True)
    fewer = [(carried, rows) for (carried, rows), (_, before) in steps if 0 < rows < before]
    assert fewer and all(carried == rows for carried, rows in fewer)  # rows left, nothing recomputed
