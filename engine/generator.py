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
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import torch

from engine.batch import Batch, Request
from engine.model import FastStep
from engine.modelfolder import LoadedModel, load_model_folder
from engine.sampling import Sampling
from engine.streams import AsyncStream, GeneratorClosed, Outbox, SyncStream
from engine.vocab import PARAGRAPH

__all__ = ["DEFAULT_MAX_SEED_CHARS", "Generator", "GeneratorClosed"]

DEFAULT_MAX_SEED_CHARS = 2000


class Generator:
    """Holds one loaded model and streams continuations of seeds to any number of readers."""

    loaded: LoadedModel
    _batch: Batch  # the worker's (see engine/batch.py)

    def __init__(self, model: LoadedModel | Path | str | None = None, device: str = "cpu",
                 max_seed_chars: int = DEFAULT_MAX_SEED_CHARS) -> None:
        if max_seed_chars < 1:
            raise ValueError(f"max_seed_chars must be at least 1, not {max_seed_chars}")
        self.max_seed_chars = max_seed_chars
        self._cond = threading.Condition()
        self._joining: list[Request] = []
        self._live: set[Request] = set()  # joining or in the batch, not finished, not cancelled
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
                self._batch = Batch(FastStep(self.loaded.model), self.loaded.vocab, self.loaded.device,
                                    self._finished)
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

        def start(wake: Callable[[], None]) -> Request:
            request = Request(ids, length, settings, random.Random(rng_seed), Outbox(wake))
            self._join(request)
            return request
        return start

    def _join(self, request: Request) -> None:
        with self._cond:
            if self._closed:
                raise GeneratorClosed("this Generator is closed")
            if request.length == 0:
                request.outbox.put(done=True)
                return
            self._live.add(request)
            self._joining.append(request)
            self._cond.notify()

    def _leave(self, request: Request) -> None:
        """A reader is done with its stream: free the slot now (the worker skips the row from its next step)."""
        request.cancelled = True
        self._batch.cancelled = True  # after the request's flag: the worker looks at the flags once it sees this
        self._finished(request)
        request.outbox.put(done=True)  # wakes a reader blocked in another thread

    # ----- worker thread -----------------------------------------------------------------------

    def _serve(self, load: Callable[[], None], ready: threading.Event, failed: list[BaseException]) -> None:
        load()
        if failed:
            return
        batch = self._batch
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

    def _loop(self, batch: Batch) -> None:
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

    def _finished(self, request: Request) -> None:
        """The stream no longer counts as active (it ended, failed or its reader left)."""
        with self._cond:
            self._live.discard(request)


def _resolve(sampling: Sampling | None, temperature: float | None, top_k: int | None,
             top_p: float | None) -> Sampling:
    base = sampling or Sampling()
    return Sampling(
        temperature=base.temperature if temperature is None else temperature,
        top_k=base.top_k if top_k is None else top_k,
        top_p=base.top_p if top_p is None else top_p,
    )
