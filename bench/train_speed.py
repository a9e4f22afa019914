"""Training speed: the tutorial's formulation vs ours, side by side on this machine.

The tutorial (Keras "Text Generation With LSTM Recurrent Neural Networks") feeds 100-character
sliding windows, one target per window, each character id scaled to [0, 1] as a float feature,
into LSTM(256) (and a two-layer variant), batch 128, Adam. Its own report: 47 epochs to a training
loss of 1.22 nats. We time a few hundred of its batches, extrapolate to an epoch, and time how long
our defaults (contiguous streams, truncated BPTT, loss at every position) take to reach 1.22.

    python bench/train_speed.py [--book PATH] [--tutorial-batches 200] [--max-minutes 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.model import CharLSTM, ModelConfig  # noqa: E402
from train.data import StreamBatcher  # noqa: E402
from train.loop import lr_at  # noqa: E402
from train.prepare import prepare_corpus  # noqa: E402
from train.settings import TrainSettings  # noqa: E402

TARGET_LOSS = 1.22  # nats per character, the tutorial's training loss after 47 epochs
TUTORIAL_EPOCHS = 47
WINDOW = 100
TUTORIAL_REGULARISATION = {"dropout": 0.2, "embed_dropout": 0.0, "weight_drop": 0.0}  # its Dropout(0.2)


class TutorialLSTM(nn.Module):
    """The tutorial's network: scaled-float input, LSTM, dropout 0.2, dense softmax on the last step."""

    def __init__(self, vocab_size: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, 256, layers, batch_first=True, dropout=0.2 if layers > 1 else 0.0)
        self.head = nn.Linear(256, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(F.dropout(out[:, -1], 0.2, self.training))


def tutorial_seconds_per_epoch(ids: torch.Tensor, vocab_size: int, layers: int, batches: int) -> float:
    torch.manual_seed(0)
    model = TutorialLSTM(vocab_size, layers)
    opt = torch.optim.Adam(model.parameters())
    windows = len(ids) - WINDOW
    per_epoch = -(-windows // 128)
    starts = torch.randperm(windows)
    offsets = torch.arange(WINDOW)
    t0 = time.perf_counter()
    for b in range(batches):
        s = starts[(b * 128) % windows:(b * 128) % windows + 128]
        x = (ids[s[:, None] + offsets].float() / vocab_size)[..., None]
        y = ids[s + WINDOW]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / batches * per_epoch


def ours_seconds_to_loss(corpus, max_minutes: float, **overrides) -> tuple[float | None, int, float]:
    s = TrainSettings(books=["-"], **overrides)
    torch.manual_seed(s.seed)
    model = CharLSTM(ModelConfig(len(corpus.vocab), s.embed, s.hidden, s.layers, s.dropout, s.embed_dropout,
                                 s.weight_drop))
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay, betas=(0.9, 0.99))
    batcher = StreamBatcher(corpus.train_ids, s.batch, s.seq_len, seed=s.seed)
    recent: list[float] = []
    state, step, t0 = None, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < max_minutes * 60:
        x, y, new_epoch = batcher.next_batch()
        if new_epoch:
            state = None
        for group in opt.param_groups:
            group["lr"] = lr_at(s, step, elapsed / (s.minutes * 60))
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), s.clip)
        opt.step()
        state = tuple(t.detach() for t in state)
        step += 1
        recent = (recent + [loss.item()])[-batcher.steps_per_epoch:]  # mean over the last epoch
        if len(recent) == batcher.steps_per_epoch and sum(recent) / len(recent) <= TARGET_LOSS:
            return time.perf_counter() - t0, step, sum(recent) / len(recent)
    return None, step, sum(recent) / max(1, len(recent))


def main() -> None:
    default_book = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "wonderland.txt"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", default=str(default_book))
    parser.add_argument("--tutorial-batches", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=10.0)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    corpus = prepare_corpus([args.book], True, 3, 0.1, 1000)
    ids = torch.from_numpy(corpus.train_ids.astype("int64"))
    print(f"book: {args.book} ({len(ids):,} training characters), {torch.get_num_threads()} CPU threads")
    per_epoch = {}
    for layers in (1, 2):
        per_epoch[layers] = tutorial_seconds_per_epoch(ids, len(corpus.vocab), layers, args.tutorial_batches)
        print(f"tutorial formulation, {layers} x LSTM(256): {per_epoch[layers]:.0f} s/epoch "
              f"(from {args.tutorial_batches} batches of 128 windows); {TUTORIAL_EPOCHS} epochs to "
              f"{TARGET_LOSS} nats = {per_epoch[layers] * TUTORIAL_EPOCHS / 3600:.1f} h")
    variants = {
        "ours, defaults (heavy regularisation, tuned for held-out score)": {},
        "ours, the tutorial's regularisation (dropout 0.2 only)": TUTORIAL_REGULARISATION,
    }
    for label, overrides in variants.items():
        seconds, steps, loss = ours_seconds_to_loss(corpus, args.max_minutes, **overrides)
        if seconds is None:
            print(f"{label}: did not reach {TARGET_LOSS} nats in {args.max_minutes} min "
                  f"({steps} steps, last-epoch mean {loss:.3f})")
            continue
        print(f"{label}: training loss {loss:.3f} nats (mean over the last epoch, dropout on) after "
              f"{seconds:.0f} s, {steps} steps")
        for layers in (1, 2):
            tutorial = per_epoch[layers] * TUTORIAL_EPOCHS
            print(f"  time to {TARGET_LOSS} nats: tutorial {layers}-layer {tutorial:,.0f} s vs {seconds:.0f} s "
                  f"= {tutorial / seconds:,.0f}x faster")

if __name__ == "__main__":
    main()
