"""Training end to end on real text: learning, export, resume, Ctrl-C, bad input, evaluation."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.modelfolder import load_model_folder
from engine.precision import QUALITY_BOUND
from engine.steps.build import unavailable
from train.__main__ import main as train_main
from train.data import StreamBatcher
from train.loop import LN2
from train.prepare import CorpusRules, prepare_corpus

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus folder {CORPUS} is absent")
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--from", "none", "--embed", "16", "--hidden", "48", "--layers", "1", "--batch", "8", "--seq-len", "40",
        "--dropout", "0", "--embed-dropout", "0", "--weight-drop", "0", "--threads", "1",
        "--no-progress", "--sample-chars", "40", "--minutes", "0", "--warmup-steps", "10"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Token cache and Gutenberg cache in a temp folder: tests never touch the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def run_cli(*args: str, env_extra: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "train", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=240, **kwargs)


def train_here(*args: str) -> tuple[int, str]:
    """`python -m train ARGS` in this process (torch is imported already: no 8 s start in a child);
    its exit code and what it wrote on stderr."""
    err = io.StringIO()
    threads = torch.get_num_threads()
    try:
        with contextlib.redirect_stderr(err):
            code = train_main(list(args))
    finally:
        torch.set_num_threads(threads)
    return code, err.getvalue()


@needs_corpus
def test_tiny_model_beats_unigram_entropy_within_seconds(tmp_path):
    out = tmp_path / "m"
    start = time.monotonic()
    assert train_main([str(CORPUS / "alice29.txt"), "--out", str(out), "--epochs", "1", "--eval-every", "100",
                       "--lr", "1e-2", *TINY]) == 0
    elapsed = time.monotonic() - start
    corpus = prepare_corpus([str(CORPUS / "alice29.txt")], CorpusRules(True, 3, 0.1, 1000))
    counts = Counter(np.asarray(corpus.train_ids).tolist())
    total = sum(counts.values())
    unigram_bits = -sum(n / total * math.log2(n / total) for n in counts.values())
    loaded = load_model_folder(out)
    best = loaded.config["metrics"]["best_val_bpc"]
    assert best < unigram_bits - 0.5, (best, unigram_bits)
    assert elapsed < 60
    assert loaded.config["corpus"]["name"] == "alice29.txt"
    assert loaded.config["corpus"]["chars"] == 143_664  # after the layout is cleaned out (train/layout.py)
    speakers = json.loads((out / "speakers.json").read_text())["speakers"]  # who speaks, read from the printed text
    assert [name for name, _ in speakers[:3]] == ["Alice", "the King", "the Hatter"]
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,epoch,seconds,lr,train_loss,val_loss,val_bpc")
    assert len(history) >= 3
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")  # matplotlib comes with the dev extra


@needs_corpus
def test_export_load_round_trip_gives_the_same_predictions(tiny_base):
    out = tiny_base  # TINY on wonderland.txt, exported by a real run (tests/conftest.py)
    loaded = load_model_folder(out)
    weights = load_file(str(out / "model.safetensors"))
    assert set(weights) == set(loaded.model.state_dict())
    ids = torch.tensor([loaded.vocab.encode(loaded.vocab.normalize("Alice was beginning"))])
    logits_a, _ = loaded.model(ids)
    again = load_model_folder(out)
    logits_b, _ = again.model(ids)
    assert torch.equal(logits_a, logits_b)
    assert not loaded.model.training
    cfg = loaded.config
    assert cfg["format_version"] == 1
    assert cfg["architecture"]["vocab_size"] == len(loaded.vocab) == weights["embed.weight"].shape[0]
    assert cfg["corpus"]["sha256"] == "b81146c82ae8d0f4aa74f589d5e1258d4ac8dc0094edd351bd78a1bd5744982d"
    assert set(cfg["metrics"]) >= {"best_val_bpc", "best_val_loss", "train_loss", "steps", "epochs", "seconds",
                                   "device"}
    assert cfg["training"]["command"].startswith("python -m train ")
    assert cfg["training"]["hidden"] == 48
    if unavailable("int8", torch.device("cpu")) is None:  # measured at the end: what lets auto choose int8
        cost = cfg["metrics"]["precision"]["int8"]["held-out tail"]
        assert cost["chars"] > 1000 and abs(cost["cost"]) <= QUALITY_BOUND
        assert abs(cost["cost"] - (cost["bpc"] - cost["fp32_bpc"])) <= 0.00011  # each rounded to 4 places
        assert cost["weights_sha256"] == loaded.weights_sha256  # bound to the weights it was measured on


def _wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def train_straight_and_interrupted(book: str, args: list[str], tmp_path: Path) -> tuple[Path, Path, str]:
    """The same run twice: in a child stopped by Ctrl-C after its first evaluation (tmp_path/interrupted,
    exit 130), and meanwhile, while the child starts python and torch, to the end in this process
    (tmp_path/straight); returns both folders and the stopped run's stderr."""
    interrupted = tmp_path / "interrupted"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "child-cache")}  # no token cache written by both
    proc = subprocess.Popen([sys.executable, "-m", "train", book, "--out", str(interrupted), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def ctrl_c_after_the_first_evaluation() -> None:
        _wait_for(interrupted / "history.csv")
        proc.send_signal(signal.SIGINT)
    stopper = threading.Thread(target=ctrl_c_after_the_first_evaluation, daemon=True)
    stopper.start()
    try:
        straight = tmp_path / "straight"
        code, out = train_here(book, "--out", str(straight), *args)
        assert code == 0, out
        stopper.join(timeout=150)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    return straight, interrupted, err


@needs_corpus
def test_ctrl_c_keeps_best_model_and_resume_continues_the_exact_step(tmp_path):
    book = str(CORPUS / "alice29.txt")
    args = ["--epochs", "1", "--eval-every", "100", "--checkpoint-minutes", "100", *TINY]  # 404 steps
    straight, interrupted, err = train_straight_and_interrupted(book, args, tmp_path)
    assert "Traceback" not in err
    assert "--resume" in err.splitlines()[-1]
    assert load_model_folder(interrupted).config["metrics"]["best_val_bpc"] > 0
    stopped_at = int(err.split("stopped at step ")[1].split(":")[0])

    code, resumed = train_here("--resume", "--out", str(interrupted), "--no-progress")
    assert code == 0, resumed
    assert f"resuming at step {stopped_at}" in resumed
    a = load_file(str(straight / "checkpoint.safetensors"))
    b = load_file(str(interrupted / "checkpoint.safetensors"))
    for name in a:
        if name.startswith(("model.", "optim.")):
            assert torch.equal(a[name], b[name]), name
    steps = [int(line.split(",")[0]) for line in (interrupted / "history.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == int(
        (straight / "history.csv").read_text().splitlines()[-1].split(",")[0])


class _Stderr:
    """A child's stderr collected as it comes (the progress bar rewrites its line with \\r: no readline)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.chunks: list[bytes] = []
        self._fd = proc.stderr.fileno()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := os.read(self._fd, 4096):
            self.chunks.append(chunk)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")

    def wait_for_step(self, step: int, timeout: float = 120) -> None:
        """Until the progress bar (unit: steps) shows at least `step`."""
        deadline = time.monotonic() + timeout
        while max((int(n) for n in re.findall(r"\| *(\d+)/\d+ \[", self.text())), default=0) < step:
            assert time.monotonic() < deadline, f"no progress to step {step}:\n{self.text()}"
            time.sleep(0.05)

    def finish(self) -> str:
        self._thread.join(timeout=30)
        return self.text()


def _epochs_for(book: str, steps: int) -> str:
    """An --epochs value that ends a TINY run on `book` after about `steps` steps in all."""
    corpus = prepare_corpus([book], CorpusRules(True, 3, 0.1, 1000))
    return repr(steps / StreamBatcher(corpus.train_ids, 8, 40).steps_per_epoch)


STOPPED = re.compile(r"stopped at step (\d+): best model \((\S+) bits/char\) is in (.+); "
                     r"continue with: python -m train --resume --out (.+)")


@needs_corpus
def test_ctrl_c_before_the_first_evaluation_evaluates_and_exports_a_model(tmp_path):
    book, out = str(CORPUS / "lookingglass.txt"), tmp_path / "early"
    proc = subprocess.Popen([sys.executable, "-m", "train", book, "--out", str(out), "--epochs", "50",
                             "--eval-every", "100000", "--checkpoint-minutes", "100", *TINY, "--progress"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = _Stderr(proc)
    stderr.wait_for_step(5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, stderr.finish()
    err = stderr.finish()
    assert "Traceback" not in err
    bar = [part for part in re.split(r"[\r\n]", err) if "bpc=" in part]
    assert bar and not any("best=" in part or "inf" in part for part in bar), bar  # nothing evaluated yet
    stopped = STOPPED.fullmatch(err.strip().splitlines()[-1])
    assert stopped, err
    step, bpc = int(stopped[1]), float(stopped[2])
    assert step >= 5 and math.isfinite(bpc) and stopped[3] == stopped[4] == str(out)
    loaded = load_model_folder(out)
    assert loaded.config["metrics"]["best_val_bpc"] == bpc
    assert loaded.config["metrics"]["steps"] == step

    code, resumed = train_here("--resume", "--out", str(out), "--epochs", _epochs_for(book, step + 20), "--no-progress")
    assert code == 0, resumed
    assert f"resuming at step {step} (epoch 0, best {bpc:.4f} bits/char)" in resumed
    assert load_model_folder(out).config["metrics"]["steps"] > step  # its final evaluation beat step 5's


@needs_corpus
def test_second_ctrl_c_during_that_evaluation_says_no_model_was_exported(tmp_path, monkeypatch, capsys):
    from train import loop

    book, out = str(CORPUS / "lookingglass.txt"), tmp_path / "skipped"
    train_step, evaluate = loop.Trainer.train_step, loop.evaluate

    def ctrl_c_at_step_5(self, *args):
        loss = train_step(self, *args)
        if self.state.step == 4:  # counted after this returns: the loop stops at step 5
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    def ctrl_c_again(*args):
        os.kill(os.getpid(), signal.SIGINT)
        return evaluate(*args)

    monkeypatch.setattr(loop.Trainer, "train_step", ctrl_c_at_step_5)
    monkeypatch.setattr(loop, "evaluate", ctrl_c_again)
    assert train_main([book, "--out", str(out), "--epochs", "5", "--eval-every", "100000", *TINY]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"stopped at step 5: no model was exported, only the checkpoint is in {out}; "
                    f"continue with: python -m train --resume --out {out}")
    assert not (out / "config.json").exists()

    monkeypatch.undo()
    assert train_main(["--resume", "--out", str(out), "--epochs", _epochs_for(book, 15)]) == 0
    err = capsys.readouterr().err
    assert "resuming at step 5 (epoch 0, no model exported yet)" in err
    assert not any("inf" in line for line in err.splitlines() if not line.startswith("  |"))  # samples may say it
    assert load_model_folder(out).config["metrics"]["steps"] >= 15


@pytest.mark.parametrize("content, expected", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "not a text file"),
    (b"Alice was here.\n" * 3, "characters"),
])
def test_bad_book_is_one_line_and_exit_2(tmp_path, content, expected):
    """main() of `python -m train` (the next test runs the command itself for the same one-line errors)."""
    book = tmp_path / "book.txt"
    book.write_bytes(content)
    code, err = train_here(str(book), "--out", str(tmp_path / "m"), *TINY)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], err
    assert not (tmp_path / "m").exists()


def test_missing_book_bad_option_and_missing_checkpoint_are_one_line(tmp_path):
    missing = run_cli(str(tmp_path / "nope.txt"), "--out", str(tmp_path / "m"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    bad = run_cli(str(tmp_path / "nope.txt"), "--val-frac", "0.9")
    assert bad.returncode == 2 and "--val-frac" in bad.stderr
    nothing = run_cli("--resume", "--out", str(tmp_path / "never"))
    assert nothing.returncode == 2 and "no checkpoint" in nothing.stderr
    assert len(nothing.stderr.strip().splitlines()) == 1


def test_help_documents_every_option_with_its_default():
    from dataclasses import fields

    from train.settings import TrainSettings

    result = run_cli("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for f in fields(TrainSettings):
        if f.name != "books":
            assert (f.metadata.get("flag") or "--" + f.name.replace("_", "-")) in text
    assert "(default: 384)" in text and "(default: 0.1)" in text


@needs_corpus
def test_token_ids_are_memory_mapped_one_byte_each_and_cached(tmp_path):
    first = prepare_corpus([str(CORPUS / "wonderland.txt")], CorpusRules(True, 3, 0.1, 1000), cache_dir=tmp_path)
    assert isinstance(first.train_ids, np.memmap) and first.train_ids.dtype == np.uint8
    assert len(first.train_ids) + len(first.val_ids) == 142_957
    again = prepare_corpus([str(CORPUS / "wonderland.txt")], CorpusRules(True, 3, 0.1, 1000), cache_dir=tmp_path)
    assert "token ids reused from cache" in again.notes
    assert np.array_equal(np.asarray(first.val_ids), np.asarray(again.val_ids))
    assert again.vocab.chars == first.vocab.chars
    assert "ù" not in first.vocab.chars  # seen once: folded into the unknown symbol


def test_bits_per_char_uses_log2():
    assert abs(LN2 - math.log(2)) < 1e-12
