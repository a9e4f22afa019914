"""Training speed: the tutorial's formulation vs ours, side by side on this machine.

The tutorial (Keras "Text Generation With LSTM Recurrent Neural Networks") feeds 100-character
sliding windows, one target per window, each character id scaled to [0, 1] as a float feature,
into LSTM(256) (and a two-layer variant), batch 128, Adam. Its own report: 47 epochs to a training
loss of 1.22 nats. We time a few hundred of its batches, extrapolate to an epoch, and time how long
our defaults (contiguous streams, truncated BPTT, loss at every position) take to reach 1.22, with
the product's own training step (`Trainer.train_step`, what `python -m train` runs), on the CPU.

Each formulation runs in a fresh process, so none inherits the thread pool, allocator or oneDNN
state another one left behind.

    python bench/train_speed.py [--book PATH] [--tutorial-batches 200] [--max-minutes 10] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.loop import Trainer, lr_at, prepare  # noqa: E402
from train.prepare import CorpusRules, prepare_corpus  # noqa: E402
from train.settings import TrainSettings  # noqa: E402

TARGET_LOSS = 1.22  # nats per character, the tutorial's training loss after 47 epochs
TUTORIAL_EPOCHS = 47
WINDOW = 100
TUTORIAL_REGULARISATION = {"dropout": 0.2, "embed_dropout": 0.0, "weight_drop": 0.0}  # its Dropout(0.2)
QUICK = {"tutorial_batches": 20, "max_minutes": 1.0}  # --quick: a short check of the figures, not the result


class TutorialLSTM(nn.Module):
    """The tutorial's network: scaled-float input, LSTM, dropout 0.2, dense softmax on the last step."""

    def __init__(self, vocab_size: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, 256, layers, batch_first=True, dropout=0.2 if layers > 1 else 0.0)
        self.head = nn.Linear(256, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(F.dropout(out[:, -1], 0.2, self.training))


@dataclass
class OursResult:
    """How far our training got: `seconds` to the target loss, or None when the budget ran out first."""

    seconds: float | None
    steps: int
    loss: float  # mean training loss over the last epoch (dropout on)
    step_seconds: float  # mean time of one training step


def tutorial_seconds_per_epoch(book: str, layers: int, batches: int) -> float:
    """Time `batches` of the tutorial's batches and extrapolate to one epoch of its windows."""
    torch.set_num_threads(os.cpu_count() or 1)  # every core, as `python -m train` uses by default
    torch.set_flush_denormal(True)  # as the product's Trainer does on CPU: formulations compared, not float modes
    corpus = prepare_corpus([book], CorpusRules(True, 3, 0.1, 1000))
    ids = torch.from_numpy(corpus.train_ids.astype("int64"))
    vocab_size = len(corpus.vocab)
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


def ours_seconds_to_loss(book: str, max_minutes: float, overrides: dict[str, Any]) -> OursResult:
    """Train with the product's Trainer, step by step, until the last epoch's mean loss reaches the
    target; the learning-rate schedule spans the budget, as with `python -m train --minutes`. No base
    model is passed: random initial weights, as the tutorial starts from."""
    s = TrainSettings(books=[book], device="cpu", minutes=max_minutes, **overrides)
    trainer = Trainer(s, prepare(s), log=lambda line: None)
    budget = max_minutes * 60
    recent: deque[float] = deque(maxlen=trainer.batcher.steps_per_epoch)
    trained, step = 0.0, 0
    while trained < budget:
        t0 = time.perf_counter()
        recent.append(trainer.train_step(*trainer.next_batch(), lr_at(s, step, trained / budget)))
        trained += time.perf_counter() - t0
        step += 1
        mean = sum(recent) / len(recent)
        if len(recent) == recent.maxlen and mean <= TARGET_LOSS:
            return OursResult(trained, step, mean, trained / step)
    return OursResult(None, step, sum(recent) / max(1, len(recent)), trained / max(1, step))


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a new interpreter, as `python -m train` runs: a formulation timed after another
    in one process can inherit its threads, allocator and oneDNN caches and run far slower (seen
    once: docs/measurements.md, "Notes from the benches")."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def load_average() -> str:
    """The load average, printed beside the figures: other processes on the cores slow every figure
    here by far more than their share, as each OpenMP thread waits for the others at every time step
    (how much: docs/measurements.md, "Notes from the benches")."""
    load = os.getloadavg()[0]
    busy = " (other processes are using the CPU: figures will be slow and noisy)" if load > 0.5 else ""
    return f"load average {load:.1f}{busy}"


def cpu_name() -> str:
    """The CPU's model name, for comparing figures across machines."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def report_tutorial(book: str, batches: int) -> dict[int, float]:
    """Seconds per tutorial epoch, for one and two layers; prints each."""
    per_epoch = {}
    for layers in (1, 2):
        per_epoch[layers] = in_fresh_process(tutorial_seconds_per_epoch, book, layers, batches)
        print(f"tutorial formulation, {layers} x LSTM(256): {per_epoch[layers]:.0f} s/epoch "
              f"(from {batches} batches of 128 windows); {TUTORIAL_EPOCHS} epochs to "
              f"{TARGET_LOSS} nats = {per_epoch[layers] * TUTORIAL_EPOCHS / 3600:.1f} h", flush=True)
    return per_epoch


def report_ours(label: str, result: OursResult, max_minutes: float, per_epoch: dict[int, float]) -> None:
    """One line for our run, then the speed-up against each tutorial variant when the target was reached."""
    pace = f"{result.steps} steps, {result.step_seconds:.3f} s/step"
    if result.seconds is None:
        print(f"{label}: did not reach {TARGET_LOSS} nats in {max_minutes} min ({pace}, last-epoch mean "
              f"{result.loss:.3f})", flush=True)
        return
    print(f"{label}: training loss {result.loss:.3f} nats (mean over the last epoch, dropout on) after "
          f"{result.seconds:.0f} s ({pace})", flush=True)
    for layers in (1, 2):
        tutorial = per_epoch[layers] * TUTORIAL_EPOCHS
        print(f"  time to {TARGET_LOSS} nats: tutorial {layers}-layer {tutorial:,.0f} s vs {result.seconds:.0f} s "
              f"= {tutorial / result.seconds:,.0f}x faster", flush=True)


def main() -> None:
    default_book = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "wonderland.txt"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", default=str(default_book))
    parser.add_argument("--tutorial-batches", type=int, default=200)
    parser.add_argument("--max-minutes", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help=f"a short check: {QUICK}")
    args = parser.parse_args()
    if args.quick:
        vars(args).update(QUICK)
    chars = len(prepare_corpus([args.book], CorpusRules(True, 3, 0.1, 1000)).train_ids)
    print(f"book: {args.book} ({chars:,} training characters); {cpu_name()}, {os.cpu_count()} CPU threads; "
          f"{load_average()}", flush=True)
    per_epoch = report_tutorial(args.book, args.tutorial_batches)
    variants = {
        "ours, defaults (heavy regularisation, tuned for held-out score)": {},
        "ours, the tutorial's regularisation (dropout 0.2 only)": TUTORIAL_REGULARISATION,
    }
    for label, overrides in variants.items():
        report_ours(label, in_fresh_process(ours_seconds_to_loss, args.book, args.max_minutes, overrides),
                    args.max_minutes, per_epoch)
    print(f"at the end: {load_average()}")


if __name__ == "__main__":
    main()
