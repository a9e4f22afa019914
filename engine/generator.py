"""Generator: one loaded model, many readers, text streamed as it is produced.

One worker thread owns the model. A stream joins the worker's batch with its seed primed by one
forward pass (streams that arrive together are primed together); from then on every step is ONE
batched forward over all active streams (continuous batching): streams join and leave at any step,
each with its own sampling settings and its own random draws, so a stream writes the same text
alone or among others (up to float rounding).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.model import FastStep
from engine.modelfolder import LoadedModel, load_model_folder
from engine.sampling import RowSettings, Sampling, choose
from engine.streams import AsyncStream, GeneratorClosed, Outbox, SyncStream
from engine.vocab import PARAGRAPH

__all__ = ["DEFAULT_MAX_SEED_CHARS", "Generator", "GeneratorClosed"]

DEFAULT_MAX_SEED_CHARS = 2000
WAKE_INTERVAL = 0.02  # seconds: readers that keep up are woken together, at most 50 times a second


@dataclass(eq=False)
class _Request:
    """One stream's slot: what to generate and where its text goes."""

    ids: list[int]  # the prepared seed
    length: int  # characters to generate
    sampling: Sampling
    rng: random.Random
    outbox: Outbox
    cancelled: bool = False  # set by the reader; the worker drops the row at its next step


class Generator:
    """Holds one loaded model and streams continuations of seeds to any number of readers."""

    loaded: LoadedModel
    _step: FastStep

    def __init__(self, model: LoadedModel | Path | str | None = None, device: str = "cpu",
                 max_seed_chars: int = DEFAULT_MAX_SEED_CHARS) -> None:
        if max_seed_chars < 1:
            raise ValueError(f"max_seed_chars must be at least 1, not {max_seed_chars}")
        self.max_seed_chars = max_seed_chars
        self._cond = threading.Condition()
        self._joining: list[_Request] = []
        self._live: set[_Request] = set()  # joining or in the batch, not finished, not cancelled
        self._rows: list[_Request] = []  # the worker's batch, one row per stream (worker thread only)
        self._cancelled = False  # a reader left since the worker last looked: drop its row
        self._closed = False
        # The worker loads the model and does every torch computation itself. Why: on CPU, a
        # second thread with an OpenMP team of its own (the caller's) makes libgomp throttle
        # spinning, and every parallel region of the worker then pays a sleep/wake-up: measured,
        # a 2,000-character prime takes 59 ms alone and 150-180 ms beside another team.
        failed: list[BaseException] = []
        ready = threading.Event()

        def load() -> None:
            try:
                self.loaded = model if isinstance(model, LoadedModel) else \
                    load_model_folder(None if model is None else Path(model), device)
                self._step = FastStep(self.loaded.model)
            except BaseException as exc:  # handed to the caller of __init__
                failed.append(exc)
            finally:
                ready.set()

        self._worker = threading.Thread(target=self._serve, args=(load, ready, failed), name="alice-generator",
                                        daemon=True)
        self._worker.start()
        ready.wait()
        if failed:
            self._worker.join()
            raise failed[0]

    # ----- public face -----------------------------------------------------------------------

    def prepare_seed(self, seed: str) -> str:
        """The seed as the model will read it: normalised, tail-trimmed, never empty."""
        text = self.loaded.vocab.normalize(seed)[-self.max_seed_chars:]
        return text or PARAGRAPH

    def stream(self, seed: str = "", length: int = 400, temperature: float | None = None,
               top_k: int | None = None, top_p: float | None = None, rng_seed: int | None = None,
               sampling: Sampling | None = None) -> Iterator[str]:
        """Iterator of text chunks continuing `seed`, `length` characters in all. A chunk is what
        was ready when asked for (one character or more). Stop early with `.close()` (or `break`)."""
        return SyncStream(self, self._request(seed, length, temperature, top_k, top_p, rng_seed, sampling))

    def astream(self, seed: str = "", length: int = 400, temperature: float | None = None,
                top_k: int | None = None, top_p: float | None = None, rng_seed: int | None = None,
                sampling: Sampling | None = None) -> AsyncIterator[str]:
        """`stream` for `async for`; never blocks the event loop. Cancelling the reading task, or
        dropping the iterator, frees the stream's slot at once."""
        return AsyncStream(self, self._request(seed, length, temperature, top_k, top_p, rng_seed, sampling))

    def generate(self, seed: str = "", length: int = 400, temperature: float | None = None,
                 top_k: int | None = None, top_p: float | None = None, rng_seed: int | None = None,
                 sampling: Sampling | None = None) -> str:
        """The whole continuation as one string."""
        return "".join(self.stream(seed, length, temperature, top_k, top_p, rng_seed, sampling))

    @property
    def active_streams(self) -> int:
        """Streams started and neither finished nor cancelled."""
        with self._cond:
            return len(self._live)

    def close(self) -> None:
        """Stop the worker; streams still running end with GeneratorClosed. Safe to call twice."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._worker is not threading.current_thread():
            self._worker.join()

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ----- readers' side -----------------------------------------------------------------------

    def _request(self, seed: str, length: int, temperature: float | None, top_k: int | None,
                 top_p: float | None, rng_seed: int | None, sampling: Sampling | None) -> Callable:
        """Check the arguments now (errors belong to the caller); the slot is taken on first read."""
        if length < 0:
            raise ValueError(f"length must be 0 or more, not {length}")
        settings = _resolve(sampling, temperature, top_k, top_p)
        ids = self.loaded.vocab.encode(self.prepare_seed(seed))

        def start(wake: Callable[[], None]) -> _Request:
            request = _Request(ids, length, settings, random.Random(rng_seed), Outbox(wake))
            self._join(request)
            return request
        return start

    def _join(self, request: _Request) -> None:
        with self._cond:
            if self._closed:
                raise GeneratorClosed("this Generator is closed")
            if request.length == 0:
                request.outbox.put(done=True)
                return
            self._live.add(request)
            self._joining.append(request)
            self._cond.notify()

    def _leave(self, request: _Request) -> None:
        """A reader is done with its stream: free the slot now (the worker skips the row from its next step)."""
        request.cancelled = True
        self._cancelled = True  # after the request's flag: the worker looks at the flags once it sees this
        with self._cond:
            self._live.discard(request)
        request.outbox.put(done=True)  # wakes a reader blocked in another thread

    # ----- worker thread -----------------------------------------------------------------------

    def _serve(self, load: Callable[[], None], ready: threading.Event, failed: list[BaseException]) -> None:
        load()
        if failed:
            return
        batch = _Batch(self)
        ending: BaseException = GeneratorClosed("the Generator was closed")
        try:
            with torch.inference_mode():
                self._loop(batch)
        except BaseException as exc:  # a bug in the worker itself: readers must not wait forever
            ending = exc
            raise
        finally:
            with self._cond:
                self._closed = True
                batch.fail(self._joining, ending)
                self._joining = []

    def _loop(self, batch: _Batch) -> None:
        while True:
            with self._cond:
                while not (self._joining or batch.rows or self._closed):
                    self._cond.wait()
                if self._closed:
                    return
                joining, self._joining = self._joining, []
            try:
                batch.admit(joining)
                batch.step()
            except Exception as exc:  # a failed step (out of memory, ...) fails its streams, not the Generator
                batch.fail(joining, exc)

    def _finished(self, request: _Request) -> None:
        with self._cond:
            self._live.discard(request)


class _Batch:
    """The worker's batch: one row per active stream (state, last logits, sampling settings)."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.vocab, self.device = generator.loaded.vocab, generator.loaded.device
        self.rows: list[_Request] = []
        self.remaining = np.zeros(0, dtype=np.int64)  # characters each row still has to write
        self.last_tick = -WAKE_INTERVAL  # when the readers were last woken
        self.settings = RowSettings([])
        self.logits = self.h = self.c = None

    def admit(self, requests: list[_Request]) -> None:
        """Prime the newcomers on their whole seeds (together, see `prime`), then add their rows."""
        requests = [r for r in requests if not r.cancelled]
        if not requests:
            return
        logits, h, c = self.prime([r.ids for r in requests])
        if self.rows:
            logits, h, c = torch.cat([self.logits, logits]), torch.cat([self.h, h], 1), torch.cat([self.c, c], 1)
        self.logits, self.h, self.c = logits, h, c
        self._set_rows(self.rows + requests, np.concatenate([self.remaining, [r.length for r in requests]]))

    def prime(self, seeds: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Read every seed from its first character in one batched pass per distinct seed length: all
        rows read together up to the shortest seed's end, those ending there leave, the rest carry on
        with their state. Measured: 16 seeds of 76 characters take 11 ms together, 39 ms one by one."""
        order = sorted(range(len(seeds)), key=lambda i: -len(seeds[i]))  # longest first: leavers are last
        logits: list[torch.Tensor | None] = [None] * len(seeds)
        h: list[torch.Tensor | None] = [None] * len(seeds)
        c: list[torch.Tensor | None] = [None] * len(seeds)
        state, start, active = None, 0, len(order)
        while active:
            end = len(seeds[order[active - 1]])
            chunk = torch.tensor([seeds[i][start:end] for i in order[:active]], device=self.device)
            last, state = self.generator._step.read(chunk, state)
            still = sum(1 for i in order[:active] if len(seeds[i]) > end)
            for row in range(still, active):
                i = order[row]
                logits[i], h[i], c[i] = last[row], state[0][:, row], state[1][:, row]
            state, start, active = (state[0][:, :still], state[1][:, :still]), end, still
        return torch.stack(logits), torch.stack(h, 1), torch.stack(c, 1)

    def step(self) -> None:
        """Sample one character for every row, hand it to its reader, advance the state of the rest."""
        if self.generator._cancelled:
            self.generator._cancelled = False  # first: a reader leaving from now on is seen next step
            self.keep(np.array([not r.cancelled for r in self.rows], dtype=bool))
        if not self.rows:
            return
        uniforms = np.array([r.rng.random() for r in self.rows])
        ids = choose(self.logits.float().cpu().numpy(), self.settings, uniforms, self.vocab.unknown_id)
        chars, now = self.vocab.chars, time.monotonic()
        hold = now - self.last_tick < WAKE_INTERVAL  # all readers are woken on the same ticks
        if not hold:
            self.last_tick = now
        for request, i in zip(self.rows, ids.tolist(), strict=True):
            request.outbox.put(chars[i], hold=hold)
        self.remaining -= 1
        going = self.remaining > 0
        for row in np.flatnonzero(~going).tolist():
            self.rows[row].outbox.put(done=True)
            self.generator._finished(self.rows[row])
        next_ids = torch.from_numpy(ids).to(self.device)
        if not going.all():
            next_ids = next_ids[torch.from_numpy(going).to(self.device)]
            self.keep(going)
        if self.rows:
            self.logits, (self.h, self.c) = self.generator._step(next_ids, (self.h, self.c))

    def keep(self, going: np.ndarray) -> None:
        """Keep the rows marked True, drop the others."""
        if going.all():
            return
        index = torch.from_numpy(np.flatnonzero(going)).to(self.device)
        self.logits, self.h, self.c = self.logits[index], self.h[:, index], self.c[:, index]
        self._set_rows([r for r, g in zip(self.rows, going.tolist(), strict=True) if g], self.remaining[going])

    def fail(self, joining: list[_Request], exc: BaseException) -> None:
        for request in [*self.rows, *joining]:
            request.outbox.put(error=exc)
            self.generator._finished(request)
        self._set_rows([], np.zeros(0, dtype=np.int64))

    def _set_rows(self, rows: list[_Request], remaining: np.ndarray) -> None:
        self.rows, self.remaining = rows, remaining.astype(np.int64)
        self.generator._rows = rows
        self.settings = RowSettings([r.sampling for r in rows])


def _resolve(sampling: Sampling | None, temperature: float | None, top_k: int | None,
             top_p: float | None) -> Sampling:
    base = sampling or Sampling()
    return Sampling(
        temperature=base.temperature if temperature is None else temperature,
        top_k=base.top_k if top_k is None else top_k,
        top_p=base.top_p if top_p is None else top_p,
    )
