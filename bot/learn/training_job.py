"""Teaching a new book: `python -m train` in a child process, its progress, cancelling it, and
publishing the finished model folder into the models folder. Used by Discord's `!learn`
(bot/discord_app/learn_commands.py) and the terminal's `/learn` (bot/terminal/learn_command.py).

The child writes into a hidden temp folder inside the models folder (`.learn-NAME-*`, which model
scans skip). Only when it has finished and the folder loads is it renamed into place (an old model
of that name, with --replace, is swapped out in the same step); a failure or a cancel deletes the
temp folder, so nothing half-written is ever served. The child runs in its own session (a Ctrl-C
typed in the terminal stops a generation, not the training) at a lower CPU priority (the bot keeps
answering), and stops by itself if the bot goes away (train/watch.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from bot.learn.lesson import TEMP_PREFIX, LearnError, Lesson

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.safetensors"  # only for `python -m train --resume`; not kept in a published model
UPLOAD = "upload"  # subfolder of a run's temp folder holding an uploaded book; not kept either
NICE = 10  # the child's CPU priority below the bot's: generation goes first
CHECK_TIMEOUT_S = 300.0  # `python -m train --check`: reading is quick, a download may not be


def check_book(lesson: Lesson, train_args: Collection[str] = ()) -> None:
    """Read the book as `python -m train` will (`--check`: train's own reading, download included,
    no torch), before any run starts; LearnError with train's one-line reason when it cannot be
    learnt from (binary, UTF-16, too short once cleaned, a failed download)."""
    command = [sys.executable, "-m", "train", lesson.book, "--check", *train_args]
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8",
                                errors="replace", timeout=CHECK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LearnError(f"could not read {lesson.title} within {CHECK_TIMEOUT_S:g} s") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = next((line[len("error: "):] for line in reversed(lines) if line.startswith("error: ")),
                      lines[-1] if lines else f"python -m train --check exited with code {result.returncode}")
        log.info("cannot learn %s from %s: %s", lesson.name, lesson.book, reason)
        raise LearnError(f"could not learn {lesson.name}: {lesson.named(reason)}", from_train=True)


def duration(seconds: float) -> str:
    """`45 s`, `3 min 12 s`, `1 h 05 min`."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def roughly(seconds: float) -> str:
    """A time left, coarse enough not to change every second (a status message is edited only when
    its text changes): `35 s` (to 5 s), `4 min`, `1 h 05 min`."""
    if seconds < 60:
        return f"{max(5, round(seconds / 5) * 5)} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return duration(seconds)


@dataclass
class Progress:
    """The run as last reported by the child (train/watch.py)."""

    fraction: float = 0.0  # of the run's budget
    best_bpc: float | None = None  # of the best model exported so far
    train_bpc: float | None = None
    started: float = field(default_factory=time.monotonic)
    first: tuple[float, float] | None = None  # (time, fraction) of the first report: startup is not training

    def update(self, line: dict) -> None:
        self.fraction = float(line.get("progress") or 0.0)
        self.best_bpc = line.get("best_bpc") if line.get("best_bpc") is not None else self.best_bpc
        self.train_bpc = line.get("train_bpc", self.train_bpc)
        if self.first is None:
            self.first = (time.monotonic(), self.fraction)

    def seconds_left(self) -> float | None:
        """From the pace since the first report; None until there is one to go by."""
        if self.first is None:
            return None
        since, start = self.first
        done = self.fraction - start
        if done <= 0:
            return None
        return (time.monotonic() - since) * (1 - self.fraction) / done

    def describe(self) -> str:
        """`42% · 1.62 bits/char · about 2 min 10 s left` (what is known so far)."""
        if self.first is None:
            return "starting (reading the book, loading the base model)"
        parts = [f"{self.fraction:.0%}"]
        bpc = self.best_bpc if self.best_bpc is not None else self.train_bpc
        if bpc is not None:
            parts.append(f"{bpc:.2f} bits/char")
        left = self.seconds_left()
        if left is not None:
            parts.append(f"about {roughly(left)} left")
        return " · ".join(parts)


@dataclass(frozen=True)
class Outcome:
    """How a run ended: `path` of the published model (None on failure or cancel) and one line."""

    path: Path | None
    message: str
    bpc: float | None = None
    seconds: float = 0.0
    cancelled: bool = False


class LearnJob:
    """One lesson's child process. `start()`, then read `progress` any time; `cancel()` stops it;
    `wait()` gives the Outcome once the child ended and the model was published (or not)."""

    def __init__(self, lesson: Lesson, out: Path, train_args: Collection[str] = (),
                 on_change: Callable[[], None] | None = None) -> None:
        self.lesson, self.out, self.train_args = lesson, out, list(train_args)
        self.on_change = on_change or (lambda: None)  # from the reader thread: a new progress line
        self.progress = Progress()
        self.outcome: Outcome | None = None
        self._errors: deque[str] = deque(maxlen=40)  # the child's last stderr lines
        self._cancelled = threading.Event()
        self._finished = threading.Event()
        self._child: subprocess.Popen | None = None

    def command(self) -> list[str]:
        lesson = self.lesson
        command = [sys.executable, "-m", "train", lesson.book, "--out", str(self.out), "--no-progress",
                   "--progress-json", "--sample-chars", "0"]
        if lesson.minutes is not None:
            command += ["--minutes", f"{lesson.minutes:g}"]
        return command + self.train_args

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._child = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                       env=env, start_new_session=True)  # the terminal's Ctrl-C is not for it
        with contextlib.suppress(OSError, AttributeError):  # POSIX only; a lower priority is always allowed
            os.setpriority(os.PRIO_PROCESS, self._child.pid, NICE)
        log.info("learning %s from %s: %s", self.lesson.name, self.lesson.title, shlex.join(self.command()))
        threading.Thread(target=self._read_errors, name="alice-learn-stderr", daemon=True).start()
        threading.Thread(target=self._run, name="alice-learn", daemon=True).start()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def cancel(self) -> None:
        """Stop the child (SIGTERM: nothing it wrote is kept); the Outcome then says so."""
        self._cancelled.set()
        child = self._child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if hasattr(os, "killpg"):
                    os.killpg(child.pid, signal.SIGTERM)  # its own session: the group is the child
                else:
                    child.terminate()

    def wait(self, timeout: float | None = None) -> Outcome | None:
        self._finished.wait(timeout)
        return self.outcome

    def _read_errors(self) -> None:
        for line in self._child.stderr:
            self._errors.append(line.rstrip())

    def _run(self) -> None:
        try:
            for line in self._child.stdout:
                if line.startswith("{"):
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        self.progress.update(json.loads(line))
                        self.on_change()
            code = self._child.wait()
            self.outcome = self._finish(code)
        except Exception as exc:  # a thread must not die without a word
            log.exception("learning %s failed", self.lesson.name)
            self.outcome = Outcome(None, f"could not learn {self.lesson.name}: {type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(self.out, ignore_errors=True)
            self._finished.set()
            self.on_change()

    def _finish(self, code: int) -> Outcome:
        """Publish the model after a clean exit; otherwise one line saying why there is none."""
        seconds = time.monotonic() - self.progress.started
        name = self.lesson.name
        if self._cancelled.is_set():
            kept = f"the old {name} is unchanged" if self.lesson.target.exists() else "no model was made"
            return Outcome(None, f"stopped learning {name} after {duration(seconds)}: nothing kept, {kept}",
                           seconds=seconds, cancelled=True)
        if code != 0:
            killed = f"python -m train was stopped by signal {-code} (out of memory, or killed)" if code < 0 else ""
            why = killed or self.error_line() or f"python -m train exited with code {code}"
            log.error("learning %s from %s failed: %s", name, self.lesson.book, why)
            return Outcome(None, f"could not learn {name}: {self.lesson.named(why)}", seconds=seconds)
        try:
            bpc = publish(self.out, self.lesson.target)
        except LearnError as exc:
            log.error("learning %s: %s", name, exc)
            return Outcome(None, f"could not learn {name}: {exc}", seconds=seconds)
        return Outcome(self.lesson.target, f"learned {name} from {self.lesson.title} in {duration(seconds)}: "
                       f"{bpc:.3f} bits/char", bpc=bpc, seconds=seconds)

    def error_line(self) -> str:
        """The child's `error: ...` line (train's one-line reason), else its last line."""
        lines = [line for line in self._errors if line.strip()]
        for line in reversed(lines):
            if line.startswith("error: "):
                return line[len("error: "):]
        return lines[-1][:300] if lines else ""


def publish(out: Path, target: Path) -> float:
    """Move the finished run `out` to `target` once it loads, replacing a model there in one swap;
    returns its held-out bits/char. LearnError (and `target` untouched) when it does not load."""
    from engine.modelfolder import CONFIG, ModelFolderError, load_model_folder, write_atomic

    (out / CHECKPOINT).unlink(missing_ok=True)
    shutil.rmtree(out / UPLOAD, ignore_errors=True)
    try:
        config = json.loads((out / CONFIG).read_text(encoding="utf-8"))
        config["name"] = target.name  # train named it after the temp folder
        write_atomic(out / CONFIG, json.dumps(config, ensure_ascii=False, indent=2).encode())
        loaded = load_model_folder(out)
    except (ModelFolderError, OSError, ValueError) as exc:
        raise LearnError(f"the new model does not load ({exc})") from None
    old = None
    if target.exists():
        old = target.with_name(f"{TEMP_PREFIX}{target.name}-old-{os.getpid()}")
        target.rename(old)
    out.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return float(loaded.config.get("metrics", {}).get("best_val_bpc", float("nan")))
