"""Best-of-K sentences: a stream written sentence by sentence, each kept from K candidates.

For each sentence, K candidate rows start together from the stream's state (ordinary rows of the
Generator's batch, each with random draws of its own, so a stream writes the same alone or batched)
and each writes until its sentence ends, or until it is beaten (see `_Round.beaten`: once half of
them have ended, a candidate still writing whose log-probability per character so far is below the best
ended score drops out, so a round no longer waits for its slowest candidate). When all K have ended, the
best by `score` is kept: its text goes to the reader and its state is the stream's, so the story goes on
from exactly the text shown.
The score is computed by the model itself: its mean log-probability per character (at temperature 1),
less a penalty for the share of the candidate's word pairs the story already has (likelihood alone
favours stock lines). The grammar parser that judges sense (bench/sense.py) is never used here.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from engine.batch import Candidate, Request, Row, RowEnd, RowState
from engine.endings import is_sentence_end
from engine.layout import StoryLayout
from engine.lexicon import SEED_WINDOW
from engine.vocab import Vocab

MAX_SENTENCE = 320  # a candidate ends here if no sentence has ended (the next one carries it on)
HISTORY_CHARS = 1500  # how far back the story is searched for repeated word pairs
QUORUM = 2  # candidates may be beaten once 1 in QUORUM of the round (at least one) have ended
BEATEN_MARGIN = 0.08  # ... by this much below the best ended score, per character (docs/sense.md)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


class SentenceEnding:
    """A candidate's ending: done at the white space after a sentence end (see engine/endings.py), at
    a blank line after some text, or at `cap` characters. The last character drawn (that white space)
    is not kept: it separates this sentence from the next, whose candidates read it first."""

    near = False  # (what Batch asks of an Ending: a candidate keeps no states but its last)

    def __init__(self, cap: int, beaten: Callable[[], bool] | None = None) -> None:
        self.cap = max(cap, 2)
        self.text: list[str] = []
        self.kept = 0
        self.ink = 0  # characters written that are not white space
        self.complete = False  # ended at a sentence end or blank line, not at the cap
        self.beaten = beaten  # asked after each character: stop now, out of the running?
        self.dropped = False  # stopped because it was beaten: never kept

    def add(self, char: str) -> tuple[str, bool]:
        text = self.text
        text.append(char)
        n = len(text)
        if not char.isspace():
            self.ink += 1
        if char.isspace() and n > 1 and (
                is_sentence_end(text, n - 1) or (char == "\n" and text[n - 2] == "\n" and "".join(text).strip())):
            self.kept, self.complete = n - 1, True
            return "", True
        if n >= self.cap or (self.beaten is not None and self.beaten()):
            self.kept, self.dropped = n - 1, n < self.cap
            return "", True
        return "", False

    @property
    def written(self) -> int:
        return len(self.text)


class _CandidateOutbox:
    """Where a candidate's text would go: nowhere (its writer reads its Ending); errors go to the stream."""

    def __init__(self, fail: Callable[[BaseException], None]) -> None:
        self._fail = fail

    def put(self, text: str = "", done: bool = False, error: BaseException | None = None, hold: bool = False) -> None:
        if error is not None:
            self._fail(error)


@dataclass
class _Round:
    """One sentence's candidates and how far the stream had been read when they started."""

    candidates: list[Candidate]
    read: int  # characters of the stream's text read by the round's starting state
    ends: list[RowState | None]  # each candidate's final state, once it has ended
    seen: set[tuple[str, str]]  # the story's word pairs (for the repetition penalty)
    ended: int = 0
    finished: int = 0  # candidates that ended by themselves (a sentence end, a blank line, the cap)
    best: float = -math.inf  # the best score of those

    def beaten(self, index: int) -> bool:
        """Whether a candidate still writing is out of the running: once half the round has
        ended, one whose log-probability per character so far (no repetition penalty: that only
        lowers a score) is below the best ended score by more than BEATEN_MARGIN. Length-fair: a long
        sentence that is doing well keeps going; a plain quorum (keep the first few to end) kept
        short, stock sentences. Decided from the round's own rows only, so batching changes nothing."""
        if self.finished < max(1, len(self.candidates) // QUORUM):
            return False
        candidate = self.candidates[index]
        ending: SentenceEnding = candidate.ending
        return ending.ink > 0 and candidate.logprob / ending.ink < self.best - BEATEN_MARGIN


def word_pairs(text: str) -> list[tuple[str, str]]:
    """Consecutive word pairs of `text`, lowercased."""
    words = _WORD.findall(text.lower())
    return list(zip(words, words[1:], strict=False))


def repeated_share(sentence: str, seen: set[tuple[str, str]]) -> float:
    """Share of the sentence's word pairs among `seen` (the story's; 0 for a sentence of fewer than two words)."""
    pairs = word_pairs(sentence)
    if not pairs:
        return 0.0
    return sum(pair in seen for pair in pairs) / len(pairs)


def score(logprob: float, sentence: str, seen: set[tuple[str, str]], penalty: float) -> float:
    """A candidate's score: its log-probability per character that is not white space (white space is
    cheap to predict and would make layout look likely), less `penalty` (Sampling.repeat_penalty)
    times the share of its word pairs the story already has."""
    ink = sum(not c.isspace() for c in sentence)
    return logprob / max(ink, 1) - penalty * repeated_share(sentence, seen)


class SentenceWriter:
    """Writes one stream (`stream`, a Request never in the batch itself) sentence by sentence.

    `join(requests)` hands candidate rows to the worker's batch; `finished(request)` says the stream
    no longer counts as active. Both are called in the worker thread (from a candidate's on_end)."""

    def __init__(self, stream: Request, best_of: int, vocab: Vocab, text_before: str,
                 join: Callable[[list[Row]], None], finished: Callable[[Request], None]) -> None:
        self.stream, self.best_of, self.vocab = stream, best_of, vocab
        self.history = text_before[-HISTORY_CHARS:]  # the story so far, for the repetition penalty
        self._join, self._finished = join, finished
        self._round: _Round | None = None
        self._primed: RowState | None = None  # the state the stream started writing from
        self._last_end: RowState | None = None  # the state after the last sentence kept
        self._failed = False
        self._story: StoryLayout | None = None  # what layout the story allows (engine/layout.py): from its start
        self._lead: int | None = 0  # white space written before the first letter (None: a letter is written)

    def first_round(self) -> list[Candidate]:
        """The first sentence's candidates: they read the stream's own ids (from its start state)."""
        stream = self.stream
        context = stream.context if stream.context is not None else stream.ids
        return self._candidates(stream.ids, stream.start, context, read=0)

    def _candidates(self, ids: list[int], start: RowState | None, context: list[int], read: int) -> list[Candidate]:
        stream = self.stream
        # what the stream may still write: a whole sentence and the white space after it must fit, or
        # the stream's Ending would cut back to a word end before it sees the sentence end
        room = stream.ending.budget - stream.ending.written
        cap = min(MAX_SENTENCE, room)
        outbox = _CandidateOutbox(self._fail)
        now = self._round = _Round([], read, [None] * self.best_of, set(word_pairs(self.history)))
        for index in range(self.best_of):
            now.candidates.append(Candidate(
                list(ids), stream.sampling, random.Random(stream.rng.getrandbits(64)), outbox,
                SentenceEnding(cap, partial(now.beaten, index)), start=start, on_end=partial(self._collect, index),
                context=context, story=self._story, lead=self._lead, parent=stream))
        return list(now.candidates)

    def _fail(self, error: BaseException) -> None:
        if not self._failed:
            self._failed = True
            self.stream.outbox.put(error=error)
            self._finished(self.stream)

    def _collect(self, index: int, end: RowEnd) -> None:
        """A candidate ended (or was beaten); once all have, keep the best."""
        now = self._round
        now.ends[index] = end.state
        now.ended += 1
        candidate = now.candidates[index]
        if not candidate.ending.dropped:
            now.finished += 1
            now.best = max(now.best, self._score(candidate, now.seen))
        if now.ended == len(now.candidates):
            self._keep(now)

    def _keep(self, now: _Round) -> None:
        """Keep the round's best candidate: its text to the reader, its state the stream's; then the
        next sentence's candidates, or the stream's end."""
        stream = self.stream
        index = max(range(len(now.candidates)), key=lambda i: self._score(now.candidates[i], now.seen))
        best, end_state = now.candidates[index], now.ends[index]
        if not (best.ending.complete or stream.ending.exact) and now.read > 0 and best.ending.cap < MAX_SENTENCE:
            # no sentence ends within what the stream may still write: it ends at the last one
            kept = now.read - 1  # before the separator the last sentence ended with
            rest = stream.ending.finish(kept)
            if stream.on_end is not None:
                written = self.vocab.encode("".join(stream.ending.text[:kept]))
                stream.on_end(RowEnd(self._last_end, written, 0, self._primed))
            stream.outbox.put(rest, done=True)
            self._finished(stream)
            return
        if self._primed is None:
            self._primed = best.primed
        self._story, self._lead = best.story, best.lead
        ending: SentenceEnding = best.ending
        sentence = "".join(ending.text[:ending.kept])
        separator = ending.text[ending.kept]
        self.history = (self.history + sentence + separator)[-HISTORY_CHARS:]
        out, done = [], False
        for char in sentence + separator:
            text, done = stream.ending.add(char)
            out.append(text)
            if done:
                break
        read = now.read + len(sentence)  # the kept candidate's final state has read the text this far
        if done:
            if stream.on_end is not None:
                stream.on_end(self._stream_end(now, best, read, end_state))
            stream.outbox.put("".join(out), done=True)
            self._finished(stream)
            return
        stream.outbox.put("".join(out))
        self._last_end = end_state
        context = self.vocab.encode(self.history[-SEED_WINDOW - 1:])
        self._join(self._candidates(self.vocab.encode(separator), end_state, context, read=read + 1))

    def _score(self, candidate: Candidate, seen: set[tuple[str, str]]) -> float:
        ending: SentenceEnding = candidate.ending
        if ending.dropped:
            return -math.inf
        text = "".join(ending.text[:ending.kept])
        value = score(candidate.logprob, text, seen, self.stream.sampling.repeat_penalty)
        return value if ending.complete else value - 1e6  # a whole sentence beats one cut at the cap

    def _stream_end(self, now: _Round, best: Candidate, read: int, end_state: RowState) -> RowEnd:
        """The stream's end: a state that has read all it kept but the last `unread`."""
        ending = self.stream.ending
        kept = ending.kept
        written = self.vocab.encode("".join(ending.text[:kept]))
        if kept >= read:
            return RowEnd(end_state, written, kept - read, self._primed)
        # cut inside the last sentence: from the state its candidates started in
        return RowEnd(best.primed, written, kept - now.read, self._primed)
