"""Generator: one loaded model, many readers, text streamed as it is produced.

One worker thread owns the model. A stream joins the worker's batch with its seed primed by one
forward pass (streams that arrive together are primed together); from then on every step is ONE
batched forward over all active streams (continuous batching): streams join and leave at any step,
each with its own sampling settings and its own random draws, so a stream writes the same text
alone or among others (up to float rounding). A seed may be a Conversation: its transcript is read,
from the state its last turn ended in when that is still cached (see engine/conversation.py).

A Generator nobody closes is closed for them: when it is garbage collected, and at interpreter exit
(its worker is stopped and joined before Python finalizes, see `_close_all`).
"""

from __future__ import annotations

import atexit
import contextlib
import random
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from engine.batch import Batch, Request, Row, RowEnd
from engine.casing import Recaser
from engine.conversation import Conversation, Snapshot, StateCache, plan, state_key
from engine.endings import Ending
from engine.lexicon import SEED_WINDOW
from engine.model import flush_denormals
from engine.modelfolder import LoadedModel, load_model_folder
from engine.options import DEFAULT_LENGTH, Options, StreamOptions
from engine.outbox import GeneratorClosed, Outbox
from engine.precision import Choice, check_choice, choose_precision
from engine.sentences import SentenceWriter
from engine.state import RowState
from engine.steps import Step
from engine.streams import AsyncStream, SyncStream
from engine.threads import worker_threads
from engine.vocab import PARAGRAPH

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["DEFAULT_MAX_SEED_CHARS", "DEFAULT_STATE_CACHE_BYTES", "Generator", "GeneratorClosed"]

# Seeds are read up to their last 400 characters: further back, the bundled models' predictions no
# longer change (bench/seed_horizon.py measures it), and reading is sequential, so a longer seed would
# only wait longer for its first character.
DEFAULT_MAX_SEED_CHARS = 400
DEFAULT_STATE_CACHE_BYTES = 64 << 20  # thousands of the bundled model's states (see engine/conversation.py)


class Generator:
    """Holds one loaded model and streams continuations of seeds to any number of readers."""

    loaded: LoadedModel

    def __init__(self, model: LoadedModel | Path | str | None = None, device: str = "cpu",
                 max_seed_chars: int = DEFAULT_MAX_SEED_CHARS,
                 state_cache_bytes: int = DEFAULT_STATE_CACHE_BYTES, precision: str = "auto") -> None:
        if max_seed_chars < 1:
            raise ValueError(f"max_seed_chars must be at least 1, not {max_seed_chars}")
        self.max_seed_chars = max_seed_chars
        self.states = StateCache(state_cache_bytes)  # conversations' recent states
        # the worker sets its own torch threads (engine/threads.py); PyTorch gives a
        # thread that first runs torch the last count set anywhere, so the caller's is fixed first
        torch.get_num_threads()
        self._worker = _Worker(model, device, check_choice(precision))
        self.loaded = self._worker.loaded
        self.precision: Choice = self._worker.precision  # the precision running and why (see engine/precision.py)
        # the worker never refers to this object, so dropping the last reference stops the worker
        weakref.finalize(self, self._worker.close).atexit = False  # at exit, _close_all does it

    # ----- public face -----------------------------------------------------------------------

    def prepare_seed(self, seed: str) -> str:
        """The seed as the model will read it: normalised, tail-trimmed, never empty."""
        text = self.loaded.vocab.normalize(seed)[-self.max_seed_chars:]
        return text or PARAGRAPH

    def stream(self, seed: str | Conversation = "", length: int = DEFAULT_LENGTH,
               **options: Unpack[Options]) -> Iterator[str]:
        """Iterator of text chunks continuing `seed` (text, or a Conversation's transcript): `length`
        characters, or with `exact=False` about that many, ending naturally (engine/endings.py). A
        chunk is what was ready when asked for. Stop early with `.close()` (or `break`). Options:
        `sampling` and any of its fields (temperature, top_k, top_p, words: "lexicon" keeps every
        word to the model's lexicon, "free" lets it spell anything), `rng_seed`, `exact`."""
        return SyncStream(*self._open(seed, StreamOptions.of(length, **options)))

    def astream(self, seed: str | Conversation = "", length: int = DEFAULT_LENGTH,
                **options: Unpack[Options]) -> AsyncIterator[str]:
        """`stream` for `async for`; never blocks the event loop. Cancelling the reading task, or
        dropping the iterator, frees the stream's slot at once."""
        return AsyncStream(*self._open(seed, StreamOptions.of(length, **options)))

    def generate(self, seed: str | Conversation = "", length: int = DEFAULT_LENGTH,
                 **options: Unpack[Options]) -> str:
        """The whole continuation as one string."""
        return "".join(self.stream(seed, length, **options))

    @property
    def active_streams(self) -> int:
        """Streams started and neither finished nor cancelled."""
        with self._worker.cond:
            return len(self._worker.live)

    def close(self) -> None:
        """Stop the worker; streams still running end with GeneratorClosed. Safe to call twice."""
        self._worker.close()

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Streams begun inside (`SyncStream.begin`) join the batch at the same step: the worker waits
        for this block to end before it looks (tests and benches compare a stream alone and batched)."""
        with self._worker.cond:
            yield

    @property
    def rows_in_batch(self) -> int:
        """Rows the worker steps now: one per stream, or a stream's best-of candidates."""
        return len(self._worker.batch.rows)

    @property
    def model_step(self) -> Step:
        """The model step the worker runs (engine/steps)."""
        return self._worker.batch.model_step

    def wrap_step(self, wrap: Callable[[Step], Step]) -> Step:
        """Run `wrap(model_step)` from the next step on (a test counts reads, a bench slows steps); returns it."""
        self._worker.batch.model_step = wrapped = wrap(self._worker.batch.model_step)
        return wrapped

    # ----- readers' side -----------------------------------------------------------------------

    def _open(self, seed: str | Conversation, options: StreamOptions) -> tuple[
            Callable[[Callable[[], None]], Request], Callable[[Request], None], Recaser | None]:
        """Read the seed now (errors belong to the caller); the stream's slot is taken on its first read,
        by `_start` (given the reader's wake-up), which holds this Generator, so a stream keeps it going.
        With it: how a reader leaves, and the re-caser that shows the text in the book's case (None for
        `case="lower"`, and for a model that writes case itself)."""
        recaser = Recaser(self.loaded.casing) if options.sampling.case == "book" and self.loaded.vocab.lowercase \
            else None
        if isinstance(seed, Conversation):
            read: Conversation | tuple[str, list[int]] = Conversation(list(seed.turns))  # the caller may add turns
        else:
            text = self.prepare_seed(seed)
            read = (text, self.loaded.vocab.encode(text))
        return partial(self._start, read, options, recaser), self._worker.leave, recaser

    def _start(self, read: Conversation | tuple[str, list[int]], options: StreamOptions, recaser: Recaser | None,
               wake: Callable[[], None]) -> Request:
        """Join the worker's batch: as one row, or as a sentence's best-of candidates (engine/sentences.py)."""
        request = Request([], options.sampling, random.Random(options.rng_seed), Outbox(wake),
                          Ending(options.length, options.exact))
        if isinstance(read, Conversation):  # looked up now, at the first read: the last turn has ended
            text = self._continue(read, request)
        else:
            text, request.ids = read
        if recaser is not None:
            recaser.prime(text)  # what the stream goes on from sets its first words' context
        best_of = 1 if options.sampling.greedy else options.sampling.best_of  # greedy candidates are alike
        if best_of == 1:
            self._worker.join(request, [request])
        else:
            writer = SentenceWriter(request, best_of, self.loaded.vocab, text, self._worker.enqueue,
                                    self._worker.finished)
            self._worker.join(request, writer.first_round())
        return request

    def _continue(self, conversation: Conversation, request: Request) -> str:
        """Set `request` to continue `conversation` from its cached state (if any), and to cache the
        states it starts and ends in; returns the text it continues."""
        vocab, window = self.loaded.vocab, self.max_seed_chars
        how = plan(conversation, vocab, self.states, window)
        request.ids, request.start = vocab.encode(how.read), how.start
        request.context = vocab.encode(how.text[-SEED_WINDOW - 1:])  # where its last word stands

        def on_primed(start: RowState) -> None:  # in the worker thread, before the stream writes
            self.states.put(state_key(how.text, window), Snapshot(start))

        def on_end(end: RowEnd) -> None:  # in the worker thread, before the reader hears of the end
            text = how.text + vocab.decode(end.written)
            self.states.put(state_key(text, window), Snapshot(end.state, text[len(text) - end.unread:]))
        request.on_primed, request.on_end = on_primed, on_end
        return how.text


class _Worker:
    """The worker thread and what it shares with the readers. Kept apart from the Generator so that the
    thread holds no reference to it: a Generator dropped without `close` is collected, and stops this."""

    loaded: LoadedModel
    precision: Choice
    batch: Batch  # touched by the worker thread only (see engine/batch.py)

    def __init__(self, model: LoadedModel | Path | str | None, device: str, precision: str) -> None:
        self.cond = threading.Condition()
        self.joining: list[Row] = []
        self.live: set[Request] = set()  # joining or in the batch, not finished, not cancelled
        self.closed = False
        # The worker loads the model and does every torch computation itself. Why: on CPU, a
        # second thread with an OpenMP team of its own (the caller's) makes libgomp throttle
        # spinning, and every parallel region of the worker then pays a sleep/wake-up (a long read
        # took several times as long: docs/figures-from-the-code.md).
        failed: list[BaseException] = []
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(model, device, precision, ready, failed),
                                       name="alice-generator", daemon=True)
        with _workers_lock:
            _workers.add(self)
        self.thread.start()
        try:
            ready.wait()
        except BaseException:  # Ctrl-C while loading: the worker stops once the model is in
            self.close(wait=False)
            raise
        if failed:
            self.thread.join()
            raise failed[0]

    def close(self, wait: bool = True) -> None:
        """Stop the thread (streams still running end with GeneratorClosed) and, with `wait`, join it."""
        with self.cond:
            self.closed = True
            self.cond.notify()
        if wait and self.thread is not threading.current_thread():
            self.thread.join()

    def join(self, request: Request, rows: list[Row]) -> None:
        """A stream's first read: its rows (itself, or its first candidates) enter the batch at the
        worker's next step."""
        with self.cond:
            if self.closed:
                raise GeneratorClosed("this Generator is closed")
            if request.ending.target == 0:
                request.outbox.put(done=True)
                return
            self.live.add(request)
            self.joining.extend(rows)
            self.cond.notify()

    def enqueue(self, rows: list[Row]) -> None:
        """More rows of a stream already counted (a sentence's candidates) for the next step."""
        with self.cond:
            self.joining.extend(rows)
            self.cond.notify()

    def leave(self, request: Request) -> None:
        """A reader let go of its stream: it stops counting now, its row goes at the next step."""
        request.cancelled = True
        self.batch.cancelled = True  # after the request's flag: the worker looks at the flags once it sees this
        self.finished(request)
        request.outbox.put(done=True)  # wakes a reader blocked in another thread

    def finished(self, request: Request) -> None:
        """The stream no longer counts as active (it ended, failed or its reader left)."""
        with self.cond:
            self.live.discard(request)

    # ----- the worker thread -------------------------------------------------------------------

    def _serve(self, model: LoadedModel | Path | str | None, device: str, precision: str, ready: threading.Event,
               failed: list[BaseException]) -> None:
        try:
            if self._load(model, device, precision, ready, failed):
                self._run()
        finally:
            with _workers_lock:
                _workers.discard(self)

    def _load(self, model: LoadedModel | Path | str | None, device: str, precision: str, ready: threading.Event,
              failed: list[BaseException]) -> bool:
        """Load the model and build the batch; an error is handed to the Generator's caller."""
        try:
            self.loaded = model if isinstance(model, LoadedModel) else \
                load_model_folder(None if model is None else Path(model), device)
            flush_denormals()  # this thread runs every step (a model loaded elsewhere set it there)
            with torch.inference_mode():  # auto times the candidates' real step here, in this thread
                step, self.precision = choose_precision(self.loaded.model, precision, self.loaded.config,
                                                        self.loaded.weights_sha256)
                if self.loaded.device.type == "cpu":
                    _, why = worker_threads()  # this thread's own setting
                    self.precision = Choice(self.precision.precision, f"{self.precision.reason}; {why}")
            self.batch = Batch(step, self.loaded.vocab, self.loaded.device, self.finished,
                               guide=self.loaded.guide)  # built here, once per loaded model
        except BaseException as exc:
            failed.append(exc)
            with self.cond:
                self.closed = True
        finally:
            ready.set()
        return not failed

    def _run(self) -> None:
        ending: BaseException = GeneratorClosed("the Generator was closed")
        try:
            with torch.inference_mode():
                self._loop()
        except BaseException as exc:  # a bug in the worker itself: readers must not wait forever
            ending = exc
            raise
        finally:
            with self.cond:
                self.closed = True
                self.batch.fail(self.joining, ending)
                self.joining = []

    def _loop(self) -> None:
        batch = self.batch
        while True:
            with self.cond:
                while not (self.joining or batch.rows or self.closed):
                    self.cond.wait()
                if self.closed:
                    return
                joining, self.joining = self.joining, []
            try:
                batch.admit(joining)
                batch.step()
            except Exception as exc:  # a failed step (out of memory, ...) fails its streams, not the Generator
                batch.fail(joining, exc)


# Workers whose thread may still run. Why they are joined at exit: Python ends a daemon thread that
# wakes up during finalization with pthread_exit, and when that thread is inside a torch call (GIL
# released) the unwinding reaches torch's noexcept C++ frames: std::terminate, SIGABRT, exit 134.
_workers: set[_Worker] = set()
_workers_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Stop and join every worker before the interpreter finalizes (atexit runs before that)."""
    with _workers_lock:
        workers = list(_workers)
    for worker in workers:
        worker.close()
