"""Conversations: a transcript of turns, and the LSTM states of recent ones in a bounded cache.

The model continues a conversation by reading its transcript's tail (up to the Generator's
max_seed_chars) and going on. That read is skipped when it can be: a state is cached under a
digest of the text it stands for (its last max_seed_chars characters), so continuing right after
a turn finds the state that turn ended in and reads only what was added since. An evicted state is
re-read from the transcript; for a transcript within the seed limit that is the same text read
from an empty state, so the model writes the same (up to float rounding).

Cost: a state is h and c (layers x hidden floats each) plus the logits (vocab floats;
bench/generate_speed.py prints the bytes for a model); each turn stores two (where it started
writing, for /retry and Again, and where it ended).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from engine.state import RowState
from engine.vocab import PARAGRAPH, Vocab

PERSON, MODEL = "person", "model"
SNAPSHOT_OVERHEAD = 200  # bytes of Python objects around a snapshot's tensors (a rough, fixed allowance)


@dataclass(frozen=True)
class Turn:
    """One turn of a conversation: who wrote it and the text, exactly as it joins the story."""

    by: str  # PERSON or MODEL
    text: str
    character: str = ""  # a model's turn that is a character's answer: who speaks (engine/dialogue.py)


@dataclass
class Conversation:
    """The transcript so far: people's text and the model's, in order. Plain data: front ends
    keep it (or rebuild it), the engine reads it."""

    turns: list[Turn] = field(default_factory=list)

    @classmethod
    def of(cls, *texts: str) -> Conversation:
        """A conversation from texts that alternate person, model, person, ..."""
        conversation = cls()
        for i, text in enumerate(texts):
            conversation.add(text, PERSON if i % 2 == 0 else MODEL)
        return conversation

    def add(self, text: str, by: str = PERSON, character: str = "") -> Turn | None:
        """Append a turn (nothing for empty text). A person's text that would run straight on from
        the story's last word gets a space first; the model's text joins exactly as written.
        `character`: the model's turn is that character's answer."""
        if by not in (PERSON, MODEL):
            raise ValueError(f"a turn is by {PERSON!r} or {MODEL!r}, not {by!r}")
        if not text:
            return None
        story = self.text
        if by == PERSON and story and not story[-1].isspace() and not text[0].isspace():
            text = " " + text
        turn = Turn(by, text, character)
        self.turns.append(turn)
        return turn

    def undo(self) -> Turn | None:
        """Remove and return the last turn (None when there is none)."""
        return self.turns.pop() if self.turns else None

    @property
    def text(self) -> str:
        return "".join(turn.text for turn in self.turns)

    def __len__(self) -> int:
        """Characters in the transcript."""
        return sum(len(turn.text) for turn in self.turns)

    def reading(self, vocab: Vocab) -> tuple[str, list[int]]:
        """The text the model reads (normalised, whole) and where each turn ends in it. A story that
        starts with the model's own words (or is empty) is read as starting a paragraph."""
        pieces = [PARAGRAPH] if not self.turns or self.turns[0].by == MODEL else []
        pieces += [vocab.normalize(turn.text) for turn in self.turns]
        ends, total = [], 0
        for piece in pieces:
            total += len(piece)
            ends.append(total)
        return "".join(pieces), ends


def state_key(text: str, window: int) -> bytes:
    """The cache key of a state that has read `text`: a digest of its last `window` characters."""
    return hashlib.blake2b(text[-window:].encode("utf-8"), digest_size=16).digest()


@dataclass
class Snapshot:
    """A cached state and the last characters of its text it has not read yet ("" when its logits
    are there and nothing is left to read)."""

    state: RowState
    unread: str = ""

    @property
    def nbytes(self) -> int:
        tensors = [self.state.h, self.state.c] + ([self.state.logits] if self.state.logits is not None else [])
        return sum(t.numel() * t.element_size() for t in tensors) + 4 * len(self.unread) + SNAPSHOT_OVERHEAD


class StateCache:
    """Least-recently-used states, at most `max_bytes` of them (0 turns the cache off). Readers
    look up, the worker thread stores: every method takes the lock."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"the state cache's size must be 0 or more bytes, not {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[bytes, Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> Snapshot | None:
        with self._lock:
            snapshot = self._entries.get(key)
            if snapshot is not None:
                self._entries.move_to_end(key)
            return snapshot

    def put(self, key: bytes, snapshot: Snapshot) -> None:
        size = snapshot.nbytes
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            if size > self.max_bytes:
                return
            self._entries[key] = snapshot
            self.bytes += size
            while self.bytes > self.max_bytes:  # the least recently used go first
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclass
class Plan:
    """How a request continues a conversation: the text to read, from which cached state (None: from
    an empty one), and the whole text read once that is done (the key of what it writes next)."""

    read: str
    start: RowState | None
    text: str


def plan(conversation: Conversation, vocab: Vocab, cache: StateCache, window: int) -> Plan:
    """The cheapest way to the end of `conversation`: the latest turn end whose state is cached,
    reading what follows it, unless that is no shorter than re-reading the `window`-character tail."""
    text, ends = conversation.reading(vocab)
    for end in reversed(ends):
        if len(text) - end >= window:
            break
        snapshot = cache.get(state_key(text[:end], window))
        if snapshot is not None:  # it has its logits, or characters left to read
            return Plan(snapshot.unread + text[end:], snapshot.state, text)
    return Plan(text[-window:], None, text)
