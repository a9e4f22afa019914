"""Token ids on disk and the batches of truncated back-propagation through time.

Ids live in memory-mapped files (1 byte per character when the vocabulary fits, else 2), so a
corpus larger than RAM trains with flat memory. Each book's tail is held out for validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.vocab import Vocab

CHUNK_CHARS = 1 << 22  # characters encoded per numpy pass (bounds memory while tokenising)


def id_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint8) if vocab_size <= 256 else np.dtype(np.uint16)


def encode_to_array(text: str, vocab: Vocab) -> np.ndarray:
    """Ids of normalised `text` without a Python loop per character (unknown policy applied)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    uniques, inverse = np.unique(codes, return_inverse=True)
    table = np.array([vocab.char_id(chr(c)) for c in uniques], dtype=id_dtype(len(vocab)))
    return table[inverse]


Piece = tuple[str, int, int]  # a text and the [start, end) range of it to use


def write_ids(path: Path, pieces: list[Piece], vocab: Vocab) -> np.memmap:
    """Encode the pieces one after another into the id file at `path` (chunk by chunk, so no
    second copy of a big text is made); returns it memory-mapped."""
    total = sum(end - start for _, start, end in pieces)
    dtype = id_dtype(len(vocab))
    tmp = path.with_name(path.name + ".tmp")
    out = np.memmap(tmp, dtype=dtype, mode="w+", shape=(max(total, 1),))
    pos = 0
    for text, start, end in pieces:
        for chunk in range(start, end, CHUNK_CHARS):
            ids = encode_to_array(text[chunk:min(chunk + CHUNK_CHARS, end)], vocab)
            out[pos:pos + len(ids)] = ids
            pos += len(ids)
    out.flush()
    del out
    tmp.replace(path)
    return np.memmap(path, dtype=dtype, mode="r", shape=(max(total, 1),))


def split_texts(texts: list[str], val_frac: float) -> tuple[list[Piece], list[Piece]]:
    """Heads for training, tails for validation, book by book (as ranges, not copies)."""
    heads, tails = [], []
    for text in texts:
        cut = len(text) - int(len(text) * val_frac)
        heads.append((text, 0, cut))
        tails.append((text, cut, len(text)))
    return heads, tails


@dataclass
class StreamPosition:
    """Where the training stream stands: enough to resume exactly."""

    epoch: int = 0
    step_in_epoch: int = 0
    offset: int = 0  # random start shift of this epoch, so stream boundaries move between epochs


class StreamBatcher:
    """Cuts `ids` into `batch` contiguous streams and hands out [batch, seq_len] windows in order.

    The LSTM state carries from one window to the next (truncated BPTT); every position is a
    target. `shard`/`num_shards` give each distributed process its own streams.
    """

    def __init__(self, ids: np.ndarray, batch: int, seq_len: int, seed: int = 0,
                 shard: int = 0, num_shards: int = 1) -> None:
        self.ids, self.batch, self.seq_len = ids, batch, seq_len
        self.seed, self.shard, self.num_shards = seed, shard, num_shards
        self.stream_len = (len(ids) - 1 - seq_len) // (batch * num_shards)
        if self.stream_len < seq_len:
            raise ValueError(f"training text too short: {len(ids)} characters cannot feed {batch * num_shards} "
                             f"streams of {seq_len}; use a smaller --batch or --seq-len, or a longer book")
        self.steps_per_epoch = self.stream_len // seq_len
        self.position = StreamPosition()
        self._start_epoch(self.position.epoch)

    def _start_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        self.position.offset = int(rng.integers(0, self.seq_len)) if epoch else 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(inputs, targets, new_epoch): new_epoch tells the caller to reset the carried state."""
        pos = self.position
        new_epoch = pos.step_in_epoch == 0
        starts = (np.arange(self.batch) + self.shard * self.batch) * self.stream_len
        start = pos.offset + pos.step_in_epoch * self.seq_len
        rows = np.stack([np.asarray(self.ids[s + start:s + start + self.seq_len + 1]) for s in starts])
        window = torch.from_numpy(rows.astype(np.int64))
        pos.step_in_epoch += 1
        if pos.step_in_epoch >= self.steps_per_epoch:
            pos.epoch, pos.step_in_epoch = pos.epoch + 1, 0
            self._start_epoch(pos.epoch)
        return window[:, :-1], window[:, 1:], new_epoch

    def restore(self, epoch: int, step_in_epoch: int) -> None:
        self.position = StreamPosition(epoch, step_in_epoch)
        self._start_epoch(epoch)


def validation_batches(ids: np.ndarray, seq_len: int = 256, streams: int | None = None):
    """Yield (inputs, targets, first) windows covering the held-out ids as `streams` parallel rows.

    A small held-out text is read as one stream, so no character is scored without its context;
    a big one is cut into more rows (at most 64) to keep evaluation fast."""
    streams = streams or max(1, min(64, len(ids) // 65536))
    n = (len(ids) - 1) // streams
    if n < 1:
        raise ValueError("held-out text is too short to evaluate")
    for start in range(0, n, seq_len):
        end = min(start + seq_len, n)
        rows = np.stack([np.asarray(ids[r * n + start:r * n + end + 1]) for r in range(streams)])
        window = torch.from_numpy(rows.astype(np.int64))
        yield window[:, :-1], window[:, 1:], start == 0
