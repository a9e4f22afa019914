"""What the training loop measures and shows: held-out loss, and a short sample of the model's text."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from engine.model import CharLSTM
from engine.sampling import Sampling, sample_next
from engine.vocab import PARAGRAPH, Vocab
from train.data import validation_batches


@torch.no_grad()
def evaluate(model: CharLSTM, ids: np.ndarray, device: torch.device, amp: bool,
             forward: Callable | None = None, streams: int | None = None) -> float:
    """Mean cross-entropy (nats per character) of `model` over `ids`, state carried across windows
    (`forward`: the model run another way, e.g. a step of engine/steps/; default the model itself;
    `streams`: parallel rows, see validation_batches)."""
    was_training = model.training
    model.eval()
    forward = forward or model
    total, count, state = 0.0, 0, None
    for x, y, first in validation_batches(ids, streams=streams):
        if first:
            state = None
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits, state = forward(x.to(device), state)
        total += F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def sample_text(model: CharLSTM, vocab: Vocab, length: int, seed: int, device: torch.device) -> str:
    """A short sample at the default sampling settings, from the start of a paragraph."""
    was_training = model.training
    model.eval()
    rng = random.Random(seed)
    logits, state = model.read(torch.tensor([vocab.encode(PARAGRAPH)], device=device))
    out = []
    for _ in range(length):
        next_id = sample_next(logits, [Sampling()], [rng.random()], banned=vocab.unknown_id)
        out.append(vocab.chars[int(next_id[0])])
        logits, state = model.step(next_id, state)
    model.train(was_training)
    return "".join(out)
