"""The Generator's batch: one row per active stream, primed together and stepped together.

Continuous batching: streams join (`admit`) and leave (`keep`) between steps; each `step` samples
one character for every row with that row's own settings and random draws, hands it to the row's
reader, and advances all the rows in ONE batched forward. A row may start from a state it is handed
(a conversation's cached state) and hands back its final state when it ends (see `RowEnd`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.endings import Ending
from engine.layout import TAIL_CHARS, LayoutGuard, StoryLayout, next_lead
from engine.lexicon import OFF, WordGuide
from engine.model import State
from engine.outbox import Outbox
from engine.sampling import RowSettings, Sampling, choose
from engine.state import RowState, state_joined, state_rows
from engine.steps import Step
from engine.vocab import Vocab

WAKE_INTERVAL = 0.02  # seconds: readers that keep up are woken together, at most 50 times a second


@dataclass
class RowEnd:
    """How a row ended: the ids it kept, a state that has read all of them but the last `unread`,
    and the state it started writing from (after reading its request's ids)."""

    state: RowState
    written: list[int]
    unread: int
    start: RowState


@dataclass(eq=False)
class Row:
    """What every row of the batch has: what it reads, how it samples, where its text goes, and its
    Ending, built by whoever makes the row (a stream: its length; a best-of candidate: its sentence)."""

    ids: list[int]  # read before writing: the prepared seed (or what `start` has not read yet)
    sampling: Sampling
    rng: random.Random
    outbox: Outbox
    ending: Ending
    start: RowState | None = None  # read `ids` from this state, not an empty one (with logits, ids may be [])
    on_end: Callable[[RowEnd], None] | None = None  # told how the row ended, before its reader is
    context: list[int] | None = None  # the last ids of the text before writing, for the word guide (None: ids)
    story: StoryLayout | None = None  # what layout its story allows (engine/layout.py; None: from what it reads)
    lead: int | None = 0  # white space written before its first letter (None: it has written a letter)
    tail: str = field(default="", init=False)  # the end of its text, for the layout guard
    primed: RowState | None = field(default=None, init=False)  # the state writing began from (for on_end)
    near: dict[int, RowState] = field(default_factory=dict, init=False)  # states at word ends the text may end at

    @property
    def dropped(self) -> bool:
        """Its reader left: the worker drops the row at its next step."""
        raise NotImplementedError


@dataclass(eq=False)
class Request(Row):
    """One stream's slot: a row of the batch, or (best-of) the stream its candidates write for."""

    cancelled: bool = False  # set by the reader; the worker drops the row at its next step
    # told the state its writing starts from (its seed read), once, as soon as it is primed: also when
    # its reader leaves before the end (a dialogue answer is stopped where its speech closes)
    on_primed: Callable[[RowState], None] | None = None

    @property
    def dropped(self) -> bool:
        return self.cancelled


@dataclass(eq=False)
class Candidate(Row):
    """One of a best-of-K round's candidates for its stream's next sentence (engine/sentences.py):
    dropped with its stream; the model's log-probability of each character it writes is added up."""

    parent: Request | None = None
    logprob: float = 0.0

    @property
    def dropped(self) -> bool:
        return self.parent is not None and self.parent.cancelled


class Batch:
    """The worker's batch: one row per active stream (state, last logits, sampling settings, its
    request's Ending, its place in the word guide). Only the worker thread touches it, except
    `cancelled`."""

    def __init__(self, model_step: Step, vocab: Vocab, device: torch.device,
                 finished: Callable[[Row], None], guide: WordGuide | None = None) -> None:
        self.model_step = model_step
        self.vocab, self.device = vocab, device
        self.finished = finished  # told of every stream that wrote its last character or failed
        self.cancelled = False  # a reader left since the worker last looked: drop its row (set by readers)
        self.rows: list[Row] = []
        self.last_tick = -WAKE_INTERVAL  # when the readers were last woken
        self.settings = RowSettings([])
        self.scored = False  # some row wants the log-probabilities of what it writes
        self.logits: torch.Tensor | None = None  # each row's logits of its next character [rows, vocab]
        self.state: State | None = None  # (h, c) [layers, rows, hidden] as the step returned it (see engine/steps)
        self.guide = guide  # the model's lexicon as tables (None: every row writes freely)
        self.words = np.zeros(0, dtype=np.int32)  # each row's place in the guide (OFF: a free row)
        self.layout = LayoutGuard(vocab)  # what each row may not write next, to stay prose (engine/layout.py)

    def admit(self, requests: list[Row]) -> None:
        """Prime the newcomers on their ids (together, see `prime`), then add their rows. A request
        whose start state has logits and nothing left to read starts writing from it at once."""
        requests = [r for r in requests if not r.dropped]
        if not requests:
            return
        reading = [r for r in requests if r.ids]
        ready = [r for r in requests if not r.ids]
        parts = [(self.logits, *self.state)] if self.rows else []
        if reading:
            parts.append(self._prime_once(reading))
        if ready:
            parts.append((torch.stack([r.start.logits for r in ready]), torch.stack([r.start.h for r in ready], 1),
                          torch.stack([r.start.c for r in ready], 1)))
        self.logits = torch.cat([p[0] for p in parts])
        h, c = torch.cat([p[1] for p in parts], 1), torch.cat([p[2] for p in parts], 1)
        self.state = state_joined(self.state, h, c) if self.rows else (h, c)  # the step's work kept (see Step)
        self.words = np.concatenate([self.words, [self._word_start(r) for r in reading + ready]]).astype(np.int32)
        for request in reading + ready:
            self._layout_start(request)
        for row, request in enumerate(reading + ready, start=len(self.rows)):
            if request.on_end is not None:
                request.primed = self._row_state(row)
            stream = request.parent if isinstance(request, Candidate) else request  # a first round's candidate
            if isinstance(stream, Request) and stream.on_primed is not None:
                on_primed, stream.on_primed = stream.on_primed, None
                on_primed(request.primed or self._row_state(row))
        self._set_rows(self.rows + reading + ready)

    def prime(self, seeds: list[list[int]], starts: list[RowState | None] | None = None,
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Read every seed (from its start state, else from an empty one) in one batched pass per
        distinct seed length: all rows read together up to the shortest seed's end, those ending there
        leave, the rest carry on with their state (one pass serves many seeds: a read is sequential)."""
        order = sorted(range(len(seeds)), key=lambda i: -len(seeds[i]))  # longest first: leavers are last
        logits: list[torch.Tensor | None] = [None] * len(seeds)
        h: list[torch.Tensor | None] = [None] * len(seeds)
        c: list[torch.Tensor | None] = [None] * len(seeds)
        state, start, active = _start_states([starts[i] for i in order] if starts else []), 0, len(order)
        while active:
            end = len(seeds[order[active - 1]])
            chunk = torch.tensor([seeds[i][start:end] for i in order[:active]], device=self.device)
            last, state = self.model_step.read(chunk, state)
            still = sum(1 for i in order[:active] if len(seeds[i]) > end)
            for row in range(still, active):
                i = order[row]
                logits[i], h[i], c[i] = last[row], state[0][:, row], state[1][:, row]
            state, start, active = (state[0][:, :still].contiguous(), state[1][:, :still].contiguous()), end, still
        return torch.stack(logits), torch.stack(h, 1), torch.stack(c, 1)

    def _prime_once(self, reading: list[Row]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`prime`, reading each distinct (ids, start) once: best-of-K candidates start alike."""
        places: dict[tuple, int] = {}
        unique: list[Row] = []
        which = []
        for request in reading:
            place = places.setdefault((tuple(request.ids), id(request.start)), len(unique))
            if place == len(unique):
                unique.append(request)
            which.append(place)
        logits, h, c = self.prime([r.ids for r in unique], [r.start for r in unique])
        if len(unique) == len(reading):
            return logits, h, c
        index = torch.tensor(which, device=self.device)
        return logits.index_select(0, index), h.index_select(1, index), c.index_select(1, index)

    def step(self) -> None:
        """Sample one character for every row, hand it to its reader, advance the state of the rest."""
        if self.cancelled:
            self.cancelled = False  # first: a reader leaving from now on is seen next step
            self.keep(np.array([not r.dropped for r in self.rows], dtype=bool))
        if not self.rows:
            return
        uniforms = np.array([r.rng.random() for r in self.rows])
        guide = self.guide if self.settings.any_guided else None
        allowed = guide.allowed(self.words) if guide is not None else None
        bans = [self.layout.banned_ids(r.tail, r.story, r.lead) for r in self.rows]
        if any(bans):
            if allowed is None:
                allowed = np.ones(self.logits.shape, dtype=bool)
            for row, banned in enumerate(bans):
                allowed[row, banned] = False
        logits = self.logits.float().cpu().numpy()
        ids = choose(logits, self.settings, uniforms, self.vocab.unknown_id, allowed)
        logprobs = _logprobs(logits, ids).tolist() if self.scored else None
        if guide is not None:
            self.words = guide.advance(self.words, ids)
        chars, now = self.vocab.chars, time.monotonic()
        hold = now - self.last_tick < WAKE_INTERVAL  # all readers are woken on the same ticks
        if not hold:
            self.last_tick = now
        going = np.ones(len(self.rows), dtype=bool)
        for row, (request, i) in enumerate(zip(self.rows, ids.tolist(), strict=True)):
            if logprobs is not None and isinstance(request, Candidate):
                request.logprob += logprobs[row]
            char = chars[i]
            request.tail, request.lead = (request.tail + char)[-TAIL_CHARS:], next_lead(request.lead, char)
            text, done = request.ending.add(char)
            if request.ending.near and request.on_end is not None:  # the text may end here: keep this state
                ending = request.ending  # ... and the one it would be cut back to, no other
                request.near = {p: s for p, s in request.near.items() if p == ending.safe}
                request.near[ending.word_end] = self._row_state(row)
            if done:
                going[row] = False
                if request.on_end is not None:  # first: a reader told of the end finds the state stored
                    request.on_end(self._row_end(request, row))
            if text or done:
                request.outbox.put(text, done=done, hold=hold)
            if done:
                self.finished(request)
        if not going.all():
            self.keep(going)
            ids = ids[going]
        if self.rows:  # the state handed back whole, or its rows that stay: see Step
            self.logits, self.state = self.model_step(torch.from_numpy(ids).to(self.device), self.state)

    def keep(self, going: np.ndarray) -> None:
        """Keep the rows marked True, drop the others."""
        if going.all():
            return
        index = torch.from_numpy(np.flatnonzero(going)).to(self.device)
        self.logits, self.state = self.logits.index_select(0, index), state_rows(self.state, index)
        self.words = self.words[going]
        self._set_rows([r for r, g in zip(self.rows, going.tolist(), strict=True) if g])

    def fail(self, joining: list[Row], exc: BaseException) -> None:
        """End every row, and the streams about to join, with `exc`."""
        for request in [*self.rows, *joining]:
            request.outbox.put(error=exc)
            self.finished(request)
        self._set_rows([])
        self.words = self.words[:0]

    def _row_end(self, request: Row, row: int) -> RowEnd:
        """The row's final state for its `on_end`: the one that has read (nearly) all it kept."""
        ending = request.ending
        kept = ending.kept
        written = self.vocab.encode("".join(ending.text[:kept]))
        if kept == ending.written - 1:  # it stopped before a character it drew: the logits are those of what follows
            state, unread = self._row_state(row), 0
        elif kept == ending.written:  # its last character is drawn, not read
            h, c = self.state
            state, unread = RowState(h[:, row].clone(), c[:, row].clone()), 1
        elif kept in request.near:  # a blank line, or cut back: a word end whose state was kept
            state, unread = request.near[kept], 0
        else:  # cut back further: from where it started, all it kept is still to read
            state, unread = request.primed, kept
        return RowEnd(state, written, unread, request.primed)

    def _row_state(self, row: int) -> RowState:
        """A copy of one row's state and logits (a view would keep the whole batch's tensors alive)."""
        h, c = self.state
        return RowState(h[:, row].clone(), c[:, row].clone(), self.logits[row].clone())

    def _word_start(self, request: Row) -> int:
        """Where a newcomer's text stands in the word guide (OFF for rows not kept to the lexicon, or
        with no lexicon to keep to: they stay there, and may write anything)."""
        if request.sampling.words != "lexicon" or self.guide is None:
            return OFF
        return self.guide.start(request.context if request.context is not None else request.ids)

    def _layout_start(self, request: Row) -> None:
        """A newcomer's place for the layout guard: the end of what it read, and what its story allows."""
        text = self.vocab.decode(request.context if request.context is not None else request.ids)
        request.tail = text[-TAIL_CHARS:]
        if request.story is None:
            request.story = StoryLayout.of(text)

    def _set_rows(self, rows: list[Row]) -> None:
        self.rows = rows
        self.settings = RowSettings([r.sampling for r in rows])
        self.scored = any(isinstance(r, Candidate) for r in rows)


def _logprobs(logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Each row's log-probability of its id under the model (temperature 1, nothing masked)."""
    top = logits.max(axis=1)
    return logits[np.arange(len(ids)), ids] - top - np.log(np.exp(logits - top[:, None]).sum(axis=1))


def _start_states(starts: list[RowState | None]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The rows' starting (h, c) [layers, rows, hidden], zeros for rows without one; None if none has one."""
    given = next((s for s in starts if s is not None), None)
    if given is None:
        return None
    zero = torch.zeros_like(given.h)
    return (torch.stack([zero if s is None else s.h for s in starts], 1),
            torch.stack([zero if s is None else s.c for s in starts], 1))
