"""A checkpoint survives kill -9 in the middle of its write (train/checkpoint.py: temp file, fsync, rename)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

KILLER = """
import os, signal, sys, time, torch
from engine.model import CharLSTM, ModelConfig
from train.checkpoint import TrainState, save_checkpoint
from pathlib import Path
torch.set_num_threads(1)  # no thread pool to fork with
model = CharLSTM(ModelConfig(vocab_size=40, hidden=256, embed=32))
opt = torch.optim.AdamW(model.parameters())
path = Path(sys.argv[1])
for line in sys.stdin:  # a delay: one writer process, killed -9 that long after its first checkpoint
    ready, told = os.pipe()
    writer = os.fork()  # torch is imported once, not once a writer
    if writer == 0:
        try:
            save_checkpoint(path, model, opt, TrainState(step=1))
            os.write(told, b"first")
            step = 2
            while True:
                save_checkpoint(path, model, opt, TrainState(step=step))
                step += 1
        finally:
            os._exit(1)  # never back into the loop above
    os.close(told)
    assert os.read(ready, 5) == b"first"
    time.sleep(float(line))
    os.kill(writer, signal.SIGKILL)
    os.waitpid(writer, 0)
    print("killed", flush=True)
"""


def test_kill_9_during_checkpoint_write_leaves_a_loadable_checkpoint(tmp_path):
    from engine.model import CharLSTM, ModelConfig
    from train.checkpoint import load_checkpoint

    path = tmp_path / "checkpoint.safetensors"
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(path)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        for delay in (0.05, 0.2, 0.45):
            proc.stdin.write(f"{delay}\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "killed"
            model = CharLSTM(ModelConfig(vocab_size=40, hidden=256, embed=32))
            opt = torch.optim.AdamW(model.parameters())
            state, _ = load_checkpoint(path, model, opt, torch.device("cpu"))
            assert state.step >= 1
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
