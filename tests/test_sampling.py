"""The next-character draw: greedy, temperature, top-k, top-p, row independence, the banned symbol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.sampling import RowSettings, Sampling, choose, sample_next

PROBS = np.array([0.02, 0.5, 0.3, 0.15, 0.03])  # id 0 plays the unknown symbol


def draw_all(settings: Sampling, probs: np.ndarray = PROBS, n: int = 1000, banned: int | None = 0) -> np.ndarray:
    """Picks for n evenly spaced uniforms: their histogram is the exact distribution being sampled."""
    logits = np.tile(np.log(probs), (n, 1)).astype(np.float32)
    uniforms = (np.arange(n) + 0.5) / n
    return choose(logits, RowSettings([settings] * n), uniforms, banned)


def test_temperature_one_follows_the_model_distribution_without_the_unknown_symbol():
    counts = np.bincount(draw_all(Sampling(temperature=1, top_p=1)), minlength=5)
    assert counts[0] == 0
    expected = PROBS[1:] / PROBS[1:].sum() * 1000
    assert np.abs(counts[1:] - expected).max() <= 1


def test_greedy_picks_the_likeliest_allowed_character_whatever_the_draw():
    probs = np.array([0.6, 0.1, 0.25, 0.05])  # the unknown symbol is the likeliest: never chosen
    assert set(draw_all(Sampling(temperature=0), probs)) == {2}
    assert set(draw_all(Sampling(temperature=0), probs, banned=None)) == {0}


def test_low_temperature_sharpens_and_high_temperature_flattens():
    likeliest_share = {t: np.mean(draw_all(Sampling(temperature=t, top_p=1)) == 1) for t in (0.5, 1.0, 2.0)}
    assert likeliest_share[0.5] > likeliest_share[1.0] > likeliest_share[2.0]


def test_top_k_keeps_only_the_k_likeliest():
    assert set(draw_all(Sampling(temperature=1, top_k=2, top_p=1))) == {1, 2}
    assert set(draw_all(Sampling(temperature=1, top_k=1, top_p=1))) == {1}


def test_top_p_keeps_the_smallest_set_reaching_p():
    # after banning id 0: 0.51, 0.31, 0.15, 0.03 -> 0.51 + 0.31 = 0.82 reaches 0.8
    assert set(draw_all(Sampling(temperature=1, top_p=0.8))) == {1, 2}
    assert set(draw_all(Sampling(temperature=1, top_p=0.9))) == {1, 2, 3}
    assert set(draw_all(Sampling(temperature=1, top_p=0.1))) == {1}  # the likeliest always stays


def test_a_row_picks_the_same_alone_or_batched_with_other_settings():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 40)).astype(np.float32) * 3
    settings = [Sampling(), Sampling(temperature=0), Sampling(1.5, 5, 1.0), Sampling(0.5, 0, 0.5),
                Sampling(1.0, 3, 0.9), Sampling()]
    uniforms = rng.random(6)
    together = choose(logits, RowSettings(settings), uniforms)
    alone = [choose(logits[i:i + 1], RowSettings([settings[i]]), uniforms[i:i + 1])[0] for i in range(6)]
    assert together.tolist() == alone


def test_one_row_alone_picks_what_it_picks_in_a_batch_whatever_its_settings_and_mask():
    """A batch of one takes a shorter path (fewer numpy calls); it must draw exactly as the batch does,
    or a stream would write differently alone: 300 rows of random logits, settings, allowed
    characters (one row with none of its allowed characters possible) and draws."""
    rng = np.random.default_rng(1)
    rows = 300
    logits = (rng.normal(size=(rows, 40)) * rng.uniform(0.3, 6, size=(rows, 1))).astype(np.float32)
    settings = [Sampling(temperature=float(rng.choice([0, 0.3, 0.8, 1.5])), top_k=int(rng.choice([0, 1, 4, 12])),
                         top_p=float(rng.choice([0.3, 0.9, 0.95, 1.0]))) for _ in range(rows)]
    allowed = rng.random((rows, 40)) < rng.uniform(0.05, 1, size=(rows, 1))
    allowed[:, 1] = True  # every row allows something besides the banned 0
    logits[7, allowed[7]] = -np.inf  # nothing allowed is possible here: the row is drawn unguided
    uniforms = rng.random(rows)
    together = choose(logits, RowSettings(settings), uniforms, 0, allowed)
    alone = [choose(logits[i:i + 1], RowSettings([settings[i]]), uniforms[i:i + 1], 0, allowed[i:i + 1])[0]
             for i in range(rows)]
    assert together.tolist() == alone
    assert len(set(alone)) > 10 and not allowed[7, alone[7]]  # varied picks; row 7 left its mask


def test_sample_next_takes_and_returns_torch_tensors():
    logits = torch.log(torch.from_numpy(np.stack([PROBS, PROBS])))
    ids = sample_next(logits, [Sampling(temperature=0), Sampling(temperature=1, top_p=1)], [0.99, 0.999])
    assert ids.dtype == torch.long and ids.device == logits.device
    assert ids.tolist() == [1, 4]  # greedy; the last character at the very top of the distribution


@pytest.mark.parametrize("bad", [{"temperature": -0.1}, {"temperature": 11}, {"top_k": -1}, {"top_p": 0},
                                 {"top_p": 1.5}, {"repeat_penalty": -0.5}, {"repeat_penalty": 11}])
def test_settings_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        Sampling(**bad)
