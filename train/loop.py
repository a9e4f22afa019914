"""The training loop: batches in, best-on-validation model folder out, resumable at any step."""

from __future__ import annotations

import math
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from engine.casing import Casing
from engine.model import CharLSTM, ModelConfig, flush_denormals
from engine.modelfolder import pick_device, save_model_folder
from train.casing import books_casing
from train.checkpoint import CHECKPOINT, CheckpointError, TrainState, load_checkpoint, save_checkpoint
from train.data import StreamBatcher
from train.distributed import Distributed, any_rank
from train.finetune import Base, init_from_base
from train.history import HISTORY, LN2, write_history
from train.prepare import PreparedCorpus, prepare_corpus
from train.scoring import evaluate, sample_text
from train.settings import TrainSettings
from train.watch import JsonProgress

TIME_BAR = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"  # a --minutes budget


class TrainingError(Exception):
    """A run cannot start or continue; the message is one line for the user."""


def lr_at(settings: TrainSettings, step: int, progress: float) -> float:
    """Linear warm-up, then cosine from --lr down to --min-lr-frac of it over the run's progress."""
    warm = min(1.0, (step + 1) / max(1, settings.warmup_steps))
    if progress <= 0:
        return settings.lr * warm
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return settings.lr * warm * (settings.min_lr_frac + (1 - settings.min_lr_frac) * cosine)


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
        self.settings, self.corpus, self.dist = settings, corpus, dist or Distributed()
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
        self.watch = JsonProgress(settings.progress_json and self.dist.is_main)
        # the words this model may write: its books' (the rare ones left out on request) and its base's
        self.lexicon = corpus.lexicon.at_least(settings.lexicon_min_count).union(base.lexicon if base else None)

    # -- resume -------------------------------------------------------------------------------
    def resume(self) -> None:
        try:
            self.state, self.carried = load_checkpoint(self.out / CHECKPOINT, self.model, self.optimizer, self.device)
        except CheckpointError as exc:
            raise TrainingError(str(exc)) from None
        state = self.state
        state.settings = asdict(self.settings)
        if state.world != self.dist.world or state.steps_per_epoch != self.batcher.steps_per_epoch:
            # a different number of processes cuts the text into other streams: continue at the
            # same fraction of the epoch, with fresh LSTM state
            fraction = state.step_in_epoch / max(1, state.steps_per_epoch)
            state.step_in_epoch = int(fraction * self.batcher.steps_per_epoch)
            self.log(f"resuming with {self.dist.world} process(es) where the checkpoint had {state.world}")
            self.carried = None
        if self.dist.enabled:
            self.carried = None  # the checkpoint holds only the main process's carried state
            torch.manual_seed(self.settings.seed + 1000 * self.dist.rank + state.step)
        state.world, state.steps_per_epoch = self.dist.world, self.batcher.steps_per_epoch
        self.batcher.restore(state.epoch, state.step_in_epoch)
        best = f"best {self.state.best_val_loss / LN2:.4f} bits/char" if self.has_model() else "no model exported yet"
        self.log(f"resuming at step {self.state.step} (epoch {self.state.epoch}, {best})")

    def checkpoint(self) -> None:
        if not self.dist.is_main:
            return
        state = self.state
        state.epoch, state.step_in_epoch = self.batcher.position.epoch, self.batcher.position.step_in_epoch
        carried = self.carried if not self.dist.enabled else None
        save_checkpoint(self.out / CHECKPOINT, self.model, self.optimizer, state, carried)

    # -- progress -----------------------------------------------------------------------------
    def progress(self) -> float:
        settings, state = self.settings, self.state
        parts = [0.0]
        if settings.epochs:
            parts.append(state.step / (settings.epochs * self.batcher.steps_per_epoch))
        if settings.minutes:
            parts.append(state.seconds / (settings.minutes * 60))
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
            "training": {**asdict(self.settings), "command": "python -m train " + shlex.join(sys.argv[1:])},
            "metrics": metrics,
            "parameters": self.model.num_parameters(),
            "base": self.base.describe() if self.base is not None else None,
        }
        save_model_folder(self.out, self.model, self.corpus.vocab, config, self.lexicon, self.casing)

    @cached_property
    def casing(self) -> Casing | None:
        """How the books print their words (read again, not lowercased), over the base's record; None for
        a model that keeps case (it writes the capitals itself)."""
        if not self.corpus.vocab.lowercase:
            return None
        return books_casing(self.settings.books, self.corpus.vocab, self.base.casing if self.base else None)

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
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.clip)
        self.optimizer.step()
        self.carried = tuple(t.detach() for t in carried)
        return loss.item()

    def evaluate_and_record(self, train_loss: float, lr: float) -> None:
        """Score the held-out text, export on improvement, log a sample (main process only)."""
        state = self.state
        if not self.dist.is_main:
            return
        held_out = self.corpus.val_ids
        if self.settings.eval_chars:
            held_out = held_out[:self.settings.eval_chars + 1]  # bounded cost on a huge held-out set
        val = evaluate(self.model, held_out, self.device, self.amp)
        improved = val < state.best_val_loss
        if improved:
            self.export(val, train_loss)  # before updating the best: a finite best means the export is complete
            state.best_val_loss, state.best_step, state.evals_since_best = val, state.step, 0
        else:
            state.evals_since_best += 1
        state.history.append({"step": state.step, "epoch": round(state.step / self.batcher.steps_per_epoch, 3),
                           "seconds": round(state.seconds, 1), "lr": f"{lr:.3g}", "train_loss": round(train_loss, 4),
                           "val_loss": round(val, 4), "val_bpc": round(val / LN2, 4)})
        self.write_history()
        sample = sample_text(self.model, self.corpus.vocab, self.settings.sample_chars, state.step, self.device)
        self.watch.report(state.step, self.progress(), state.seconds, train_loss / LN2, state.best_val_loss / LN2,
                          val / LN2)
        mark = " *best*" if improved else ""
        bpc = f"{val / LN2:.4f} bits/char{mark}"
        self.log(f"step {state.step}: train {train_loss:.4f} nats, val {val:.4f} nats = {bpc}")
        if self.settings.sample_chars:
            self.log("  | " + sample.replace("\n", "\n  | "))

    def run(self) -> bool:
        """Train until a stopping rule fires; returns False when stopped by Ctrl-C."""
        settings, state, model = self.settings, self.state, self.model
        self.out.mkdir(parents=True, exist_ok=True)
        model.train()
        chars_per_step = settings.batch * settings.seq_len
        last_ckpt = time.monotonic()
        running, running_n, lr = 0.0, 0, settings.lr
        by_time = not settings.epochs
        bar = tqdm(total=self._bar_total(), disable=not (settings.progress and self.dist.is_main),
                   unit="s" if by_time else "step", dynamic_ncols=True, initial=self._bar_now(), leave=False,
                   mininterval=0.5, bar_format=TIME_BAR if by_time else None)
        with StopRequest() as stop:
            while True:
                progress = self.progress()
                done = progress >= 1 or bool(settings.patience and state.evals_since_best >= settings.patience)
                if any_rank(done or stop.requested, self.dist, self.device):
                    break
                t0 = time.perf_counter()
                lr = lr_at(settings, state.step, progress if (settings.epochs or settings.minutes) else 0.0)
                loss_value = self.train_step(*self.next_batch(), lr)
                state.step += 1
                running, running_n = running + loss_value, running_n + 1
                dt = time.perf_counter() - t0
                state.seconds += dt
                bar.update(1 if settings.epochs else dt)
                bar.set_postfix(self._bar_figures(loss_value, chars_per_step / dt))
                self.watch.report(state.step, self.progress(), state.seconds, loss_value / LN2,
                                  state.best_val_loss / LN2)
                if state.step % settings.eval_every == 0:
                    with BarPaused(bar):
                        self.evaluate_and_record(running / running_n, lr)
                    running, running_n = 0.0, 0
                if time.monotonic() - last_ckpt > settings.checkpoint_minutes * 60:
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
        if self.settings.epochs:
            return int(self.settings.epochs * self.batcher.steps_per_epoch)
        return self.settings.minutes * 60 if self.settings.minutes else None

    def _bar_now(self) -> float:
        return self.state.step if self.settings.epochs else round(self.state.seconds, 1)


class BarPaused:
    """A `with` block during which the progress bar is cleared, so evaluation prints cleanly above it."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def __enter__(self) -> None:
        self.bar.clear()

    def __exit__(self, *exc) -> None:
        self.bar.refresh()


def prepare(settings: TrainSettings, base: Base | None = None) -> PreparedCorpus:
    return prepare_corpus(settings.books, lowercase=not settings.keep_case, min_char_count=settings.min_char_count,
                          val_frac=settings.val_frac, min_chars=settings.min_book_chars,
                          base_vocab=base.vocab if base is not None else None)
