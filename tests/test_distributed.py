"""torch.distributed on CPU: a 2-process gloo run trains like one process with the same global batch.
The one-process runs go in this process (torch is imported already); the 2-process run is torchrun's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_train import train_here

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus folder {CORPUS} is absent")
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--from", "none", "--embed", "16", "--hidden", "48", "--layers", "1", "--seq-len", "40", "--dropout", "0",
        "--embed-dropout", "0", "--weight-drop", "0", "--threads", "1", "--no-progress", "--sample-chars", "0",
        "--minutes", "0", "--warmup-steps", "10", "--eval-every", "200"]


def start_torchrun(*args: str, procs: int, tmp: Path) -> subprocess.Popen:
    """`torchrun --nproc_per_node=PROCS -m train ARGS`, started (its token cache its own)."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "torchrun-cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*launcher, "-m", "train", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finished(run: subprocess.Popen) -> str:
    """The stderr of a started run once it ended well."""
    try:
        _, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err[-2000:]
    return err


def train_one(*args: str, tmp: Path) -> str:
    """stderr of `python -m train ARGS`, run in this process."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
        code, err = train_here(*args)
    assert code == 0, err[-2000:]
    return err


def metrics(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())["metrics"]


@needs_corpus
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    book = str(CORPUS / "alice29.txt")
    two_run = start_torchrun(book, "--out", str(tmp_path / "two"), "--batch", "4", "--epochs", "1", *TINY, procs=2,
                             tmp=tmp_path)
    try:  # the one-process run goes meanwhile, while torchrun's processes start python and torch
        one = train_one(book, "--out", str(tmp_path / "one"), "--batch", "8", "--epochs", "1", *TINY, tmp=tmp_path)
    finally:
        two = finished(two_run)
    assert "x 2 processes" in two
    assert two.count("*best*") == one.count("*best*")  # only rank 0 prints
    a, b = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    assert a["steps"] == b["steps"]
    assert abs(a["best_val_bpc"] - b["best_val_bpc"]) < 0.02, (a, b)
    assert b["best_val_bpc"] < 3.4  # it learned: unigram entropy of this text is ~4.1 bits

    # resume the 2-process run in one process: it carries on from the saved step
    resumed = train_one("--resume", "--out", str(tmp_path / "two"), "--epochs", "1.5", "--no-progress", tmp=tmp_path)
    assert "resuming with 1 process(es) where the checkpoint had 2" in resumed
    assert metrics(tmp_path / "two")["steps"] > b["steps"]
    steps = [int(line.split(",")[0]) for line in (tmp_path / "two" / "history.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))
