"""The training loop: batches in, best-on-validation model folder out, resumable at any step."""

from __future__ import annotations

import math
import os
import random
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from engine.model import CharLSTM, ModelConfig, flush_denormals
from engine.modelfolder import pick_device, save_model_folder
from engine.sampling import Sampling, sample_next
from engine.vocab import PARAGRAPH, Vocab
from train.checkpoint import CHECKPOINT, CheckpointError, TrainState, load_checkpoint, save_checkpoint
from train.data import StreamBatcher, validation_batches
from train.distributed import Distributed, any_rank
from train.finetune import Base, init_from_base
from train.history import HISTORY, LN2, write_history
from train.prepare import PreparedCorpus, prepare_corpus
from train.settings import TrainSettings

TIME_BAR = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"  # a --minutes budget


class TrainingError(Exception):
    """A run cannot start or continue; the message is one line for the user."""


def lr_at(s: TrainSettings, step: int, progress: float) -> float:
    """Linear warm-up, then cosine from --lr down to --min-lr-frac of it over the run's progress."""
    warm = min(1.0, (step + 1) / max(1, s.warmup_steps))
    if progress <= 0:
        return s.lr * warm
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return s.lr * warm * (s.min_lr_frac + (1 - s.min_lr_frac) * cosine)


@torch.no_grad()
def evaluate(model: CharLSTM, ids: np.ndarray, device: torch.device, amp: bool,
             forward: Callable | None = None, streams: int | None = None) -> float:
    """Mean cross-entropy (nats per character) of `model` over `ids`, state carried across windows
    (`forward`: the model run another way, e.g. in a reduced precision; default the model itself;
    `streams`: parallel rows, see validation_batches)."""
    was_training = model.training
    model.eval()
    forward = forward or model
    total, count, state = 0.0, 0, None
    for x, y, first in validation_batches(ids, streams=streams):
        if first:
            state = None
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits, state = forward(x.to(device), state)
        total += F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def sample_text(model: CharLSTM, vocab: Vocab, length: int, seed: int, device: torch.device) -> str:
    """A short sample at the default sampling settings, from the start of a paragraph."""
    was_training = model.training
    model.eval()
    rng = random.Random(seed)
    logits, state = model.read(torch.tensor([vocab.encode(PARAGRAPH)], device=device))
    out = []
    for _ in range(length):
        next_id = sample_next(logits, [Sampling()], [rng.random()], banned=vocab.unknown_id)
        out.append(vocab.chars[int(next_id[0])])
        logits, state = model.step(next_id, state)
    model.train(was_training)
    return "".join(out)


class StopRequest:
    """First Ctrl-C asks the loop to stop after the current step; a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Trainer:
    """One training run writing into the model folder `settings.out`."""

    def __init__(self, settings: TrainSettings, corpus: PreparedCorpus, dist: Distributed | None = None,
                 log=None, base: Base | None = None) -> None:
        self.s, self.corpus, self.dist = settings, corpus, dist or Distributed()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        if not self.dist.is_main:
            self.log = lambda line: None
        self.out = Path(settings.out)
        self.device = pick_device(settings.device)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
        if self.device.type == "cpu":
            flush_denormals()
            cores = os.cpu_count() or 1
            torch.set_num_threads(settings.threads or max(1, cores // self.dist.world))
        self.amp = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        torch.manual_seed(settings.seed)
        arch = ModelConfig(vocab_size=len(corpus.vocab), embed=settings.embed, hidden=settings.hidden,
                           layers=settings.layers, dropout=settings.dropout, embed_dropout=settings.embed_dropout,
                           weight_drop=settings.weight_drop)
        self.model = CharLSTM(arch)
        self.base = base
        if base is not None:
            init_from_base(self.model, base, corpus.vocab)
        self.model.to(self.device)
        self.net: torch.nn.Module = self.model
        if self.dist.enabled:
            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
            torch.manual_seed(settings.seed + 1000 * self.dist.rank)  # each rank its own dropout masks
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=settings.lr,
                                           weight_decay=settings.weight_decay, betas=(0.9, 0.99))
        try:
            self.batcher = StreamBatcher(corpus.train_ids, settings.batch, settings.seq_len, seed=settings.seed,
                                         shard=self.dist.rank, num_shards=self.dist.world)
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
        self.state = TrainState(settings=asdict(settings), world=self.dist.world,
                                steps_per_epoch=self.batcher.steps_per_epoch)
        self.carried: tuple[torch.Tensor, torch.Tensor] | None = None
        # the words this model may write: its books' (the rare ones left out on request) and its base's
        self.lexicon = corpus.lexicon.at_least(settings.lexicon_min_count).union(base.lexicon if base else None)

    # -- resume -------------------------------------------------------------------------------
    def resume(self) -> None:
        try:
            self.state, self.carried = load_checkpoint(self.out / CHECKPOINT, self.model, self.optimizer, self.device)
        except CheckpointError as exc:
            raise TrainingError(str(exc)) from None
        st = self.state
        st.settings = asdict(self.s)
        if st.world != self.dist.world or st.steps_per_epoch != self.batcher.steps_per_epoch:
            # a different number of processes cuts the text into other streams: continue at the
            # same fraction of the epoch, with fresh LSTM state
            fraction = st.step_in_epoch / max(1, st.steps_per_epoch)
            st.step_in_epoch = int(fraction * self.batcher.steps_per_epoch)
            self.log(f"resuming with {self.dist.world} process(es) where the checkpoint had {st.world}")
            self.carried = None
        if self.dist.enabled:
            self.carried = None  # the checkpoint holds only the main process's carried state
            torch.manual_seed(self.s.seed + 1000 * self.dist.rank + st.step)
        st.world, st.steps_per_epoch = self.dist.world, self.batcher.steps_per_epoch
        self.batcher.restore(st.epoch, st.step_in_epoch)
        best = f"best {self.state.best_val_loss / LN2:.4f} bits/char" if self.has_model() else "no model exported yet"
        self.log(f"resuming at step {self.state.step} (epoch {self.state.epoch}, {best})")

    def checkpoint(self) -> None:
        if not self.dist.is_main:
            return
        st = self.state
        st.epoch, st.step_in_epoch = self.batcher.position.epoch, self.batcher.position.step_in_epoch
        carried = self.carried if not self.dist.enabled else None
        save_checkpoint(self.out / CHECKPOINT, self.model, self.optimizer, st, carried)

    # -- progress -----------------------------------------------------------------------------
    def progress(self) -> float:
        s, st = self.s, self.state
        parts = [0.0]
        if s.epochs:
            parts.append(st.step / (s.epochs * self.batcher.steps_per_epoch))
        if s.minutes:
            parts.append(st.seconds / (s.minutes * 60))
        return max(parts)

    def export(self, val_loss: float, train_loss: float) -> None:
        metrics = {
            "best_val_bpc": round(val_loss / LN2, 4), "best_val_loss": round(val_loss, 4),
            "train_loss": round(train_loss, 4), "steps": self.state.step,
            "epochs": round(self.state.step / self.batcher.steps_per_epoch, 3),
            "seconds": round(self.state.seconds, 1), "device": str(self.device),
        }
        config = {
            "name": self.out.name,
            "corpus": self.corpus.info,
            "training": {**asdict(self.s), "command": "python -m train " + shlex.join(sys.argv[1:])},
            "metrics": metrics,
            "parameters": self.model.num_parameters(),
            "base": self.base.describe() if self.base is not None else None,
        }
        save_model_folder(self.out, self.model, self.corpus.vocab, config, self.lexicon)

    def write_history(self) -> None:
        write_history(self.state.history, self.out / HISTORY, self.out / "loss.png")

    def has_model(self) -> bool:
        """Whether an evaluated model was exported to the folder (in this run or the one resumed)."""
        return math.isfinite(self.state.best_val_loss)

    # -- the loop -----------------------------------------------------------------------------
    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next slice of every stream; the carried LSTM state restarts with each epoch."""
        x, y, new_epoch = self.batcher.next_batch()
        if new_epoch:
            self.carried = None
        return x, y

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
        """One optimiser step at learning rate `lr` on a batch, from the carried LSTM state; returns
        the batch's mean loss (nats per character). bench/train_speed.py times exactly this."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            logits, carried = self.net(x.to(self.device), self.carried)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.to(self.device).flatten())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.s.clip)
        self.optimizer.step()
        self.carried = tuple(t.detach() for t in carried)
        return loss.item()

    def evaluate_and_record(self, train_loss: float, lr: float) -> None:
        """Score the held-out text, export on improvement, log a sample (main process only)."""
        st = self.state
        if not self.dist.is_main:
            return
        held_out = self.corpus.val_ids
        if self.s.eval_chars:
            held_out = held_out[:self.s.eval_chars + 1]  # bounded cost on a huge held-out set
        val = evaluate(self.model, held_out, self.device, self.amp)
        improved = val < st.best_val_loss
        if improved:
            self.export(val, train_loss)  # before updating the best: a finite best means the export is complete
            st.best_val_loss, st.best_step, st.evals_since_best = val, st.step, 0
        else:
            st.evals_since_best += 1
        st.history.append({"step": st.step, "epoch": round(st.step / self.batcher.steps_per_epoch, 3),
                           "seconds": round(st.seconds, 1), "lr": f"{lr:.3g}", "train_loss": round(train_loss, 4),
                           "val_loss": round(val, 4), "val_bpc": round(val / LN2, 4)})
        self.write_history()
        sample = sample_text(self.model, self.corpus.vocab, self.s.sample_chars, st.step, self.device)
        mark = " *best*" if improved else ""
        self.log(f"step {st.step}: train {train_loss:.4f} nats, val {val:.4f} nats = {val / LN2:.4f} bits/char{mark}")
        if self.s.sample_chars:
            self.log("  | " + sample.replace("\n", "\n  | "))

    def run(self) -> bool:
        """Train until a stopping rule fires; returns False when stopped by Ctrl-C."""
        s, st, model = self.s, self.state, self.model
        self.out.mkdir(parents=True, exist_ok=True)
        model.train()
        chars_per_step = s.batch * s.seq_len
        last_ckpt = time.monotonic()
        running, running_n, lr = 0.0, 0, s.lr
        by_time = not s.epochs
        bar = tqdm(total=self._bar_total(), disable=not (s.progress and self.dist.is_main),
                   unit="s" if by_time else "step", dynamic_ncols=True, initial=self._bar_now(), leave=False,
                   mininterval=0.5, bar_format=TIME_BAR if by_time else None)
        with StopRequest() as stop:
            while True:
                progress = self.progress()
                done = progress >= 1 or bool(s.patience and st.evals_since_best >= s.patience)
                if any_rank(done or stop.requested, self.dist, self.device):
                    break
                t0 = time.perf_counter()
                lr = lr_at(s, st.step, progress if (s.epochs or s.minutes) else 0.0)
                loss_value = self.train_step(*self.next_batch(), lr)
                st.step += 1
                running, running_n = running + loss_value, running_n + 1
                dt = time.perf_counter() - t0
                st.seconds += dt
                bar.update(1 if s.epochs else dt)
                bar.set_postfix(self._bar_figures(loss_value, chars_per_step / dt))
                if st.step % s.eval_every == 0:
                    with _bar_paused(bar):
                        self.evaluate_and_record(running / running_n, lr)
                    running, running_n = 0.0, 0
                if time.monotonic() - last_ckpt > s.checkpoint_minutes * 60:
                    self.checkpoint()
                    last_ckpt = time.monotonic()
            interrupted = any_rank(stop.requested, self.dist, self.device)
            bar.close()
            if running_n and not interrupted:
                self.evaluate_and_record(running / running_n, lr)
            elif running_n and not self.has_model():
                self._evaluate_on_stop(running / running_n, lr)
            self.checkpoint()
        return not interrupted

    def _evaluate_on_stop(self, train_loss: float, lr: float) -> None:
        """Ctrl-C before the first evaluation: score now (seconds) so the folder holds a loadable model.
        A second Ctrl-C skips it; the checkpoint is still written and nothing claims a model."""
        self.log(f"stopping at step {self.state.step}: evaluating once to export a model (Ctrl-C again to skip)")
        try:
            self.evaluate_and_record(train_loss, lr)
        except KeyboardInterrupt:
            self.log("evaluation interrupted")  # the closing message says whether a model got exported

    def _bar_figures(self, loss: float, chars_per_second: float) -> dict[str, str]:
        """The progress bar's postfix; `best` only once an evaluation has exported a model."""
        figures = {"loss": f"{loss:.3f}", "bpc": f"{loss / LN2:.3f}", "cps": f"{chars_per_second:,.0f}"}
        if self.has_model():
            figures["best"] = f"{self.state.best_val_loss / LN2:.3f}"
        return figures

    def _bar_total(self) -> float:
        if self.s.epochs:
            return int(self.s.epochs * self.batcher.steps_per_epoch)
        return self.s.minutes * 60 if self.s.minutes else None

    def _bar_now(self) -> float:
        return self.state.step if self.s.epochs else round(self.state.seconds, 1)


class _bar_paused:
    """Let evaluation print cleanly above the bar."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def __enter__(self) -> None:
        self.bar.clear()

    def __exit__(self, *exc) -> None:
        self.bar.refresh()


def prepare(settings: TrainSettings, base: Base | None = None) -> PreparedCorpus:
    min_chars = max(1000, 2 * settings.batch * settings.seq_len)
    return prepare_corpus(settings.books, lowercase=not settings.keep_case, min_char_count=settings.min_char_count,
                          val_frac=settings.val_frac, min_chars=min_chars,
                          base_vocab=base.vocab if base is not None else None)
