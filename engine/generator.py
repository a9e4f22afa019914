"""Generator: one loaded model, many readers, text streamed as it is produced.

FIRST CUT (single stream at a time, behind a lock); continuous batching replaces the inside,
the public face (`stream`, `astream`, `generate`) stays.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import torch

from engine.modelfolder import LoadedModel, load_model_folder
from engine.sampling import Sampling, sample_next
from engine.vocab import PARAGRAPH

DEFAULT_MAX_SEED_CHARS = 2000


class Generator:
    """Holds one loaded model and streams continuations of seeds."""

    def __init__(self, model: LoadedModel | Path | str | None = None, device: str = "cpu",
                 max_seed_chars: int = DEFAULT_MAX_SEED_CHARS) -> None:
        self.loaded = model if isinstance(model, LoadedModel) else load_model_folder(model, device)
        self.max_seed_chars = max_seed_chars
        self._lock = threading.Lock()

    def prepare_seed(self, seed: str) -> str:
        """The seed as the model will read it: normalised, tail-trimmed, never empty."""
        text = self.loaded.vocab.normalize(seed)[-self.max_seed_chars:]
        return text or PARAGRAPH

    def stream(self, seed: str = "", length: int = 400, temperature: float | None = None,
               top_k: int | None = None, top_p: float | None = None, rng_seed: int | None = None,
               sampling: Sampling | None = None) -> Iterator[str]:
        """Yield the continuation of `seed`, a character at a time, `length` characters in all."""
        sampling = _resolve(sampling, temperature, top_k, top_p)
        rng = random.Random(rng_seed)
        vocab, model, device = self.loaded.vocab, self.loaded.model, self.loaded.device
        ids = torch.tensor([vocab.encode(self.prepare_seed(seed))], device=device)
        with self._lock, torch.inference_mode():
            logits, state = model(ids)
            logits = logits[:, -1]
        for _ in range(length):
            next_id = sample_next(logits, [sampling], [rng.random()], banned=vocab.unknown_id)
            yield vocab.chars[int(next_id[0])]
            with self._lock, torch.inference_mode():
                logits, state = model.step(next_id, state)

    def generate(self, seed: str = "", length: int = 400, **kwargs) -> str:
        return "".join(self.stream(seed, length, **kwargs))

    async def astream(self, seed: str = "", length: int = 400, **kwargs) -> AsyncIterator[str]:
        """`stream` for asyncio: the model runs in a worker thread, never on the event loop."""
        it = self.stream(seed, length, **kwargs)
        done = object()
        try:
            while True:
                chunk = await asyncio.to_thread(next, it, done)
                if chunk is done:
                    return
                yield chunk
        finally:
            it.close()


def _resolve(sampling: Sampling | None, temperature: float | None, top_k: int | None,
             top_p: float | None) -> Sampling:
    base = sampling or Sampling()
    return Sampling(
        temperature=base.temperature if temperature is None else temperature,
        top_k=base.top_k if top_k is None else top_k,
        top_p=base.top_p if top_p is None else top_p,
    )
