"""The precision in the front ends and the worker's threads: the terminal names it and refuses one it
cannot run, /info says which runs and why, the worker leaves a core to the readers."""

from __future__ import annotations

import subprocess
import sys

import torch
from test_precision import CPU, ROOT, small  # noqa: F401 (small: the fixture)

from engine import Generator
from engine.steps.build import unavailable


def test_the_terminal_names_the_precision_and_refuses_one_it_cannot_run(tmp_path):
    run = subprocess.run([sys.executable, "-m", "bot", "--seed", "alice", "--len", "30", "--precision", "int8",
                          "--exact", "--rng-seed", "1"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    if unavailable("int8", CPU):
        assert run.returncode != 0 and len(run.stderr.strip().splitlines()) == 1
    else:
        assert run.returncode == 0 and len(run.stdout.rstrip("\n")) == 30, run.stderr
    bad = subprocess.run([sys.executable, "-m", "bot", "--seed", "alice", "--precision", "fp16"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode != 0 and "must be auto, fp32, bf16 or int8" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_info_says_which_precision_runs_and_why():
    import io

    from bot.model_loading import open_generator
    from bot.settings import Settings
    from bot.terminal.model_slot import ModelSlot
    from bot.terminal.repl import Repl

    settings = Settings(device="cpu", precision="fp32")
    slot = ModelSlot(settings, opener=open_generator)
    slot.start()
    slot.wait()
    out = io.StringIO()
    Repl(settings, slot, out).handle_line("/info")
    assert "precision       fp32 (asked for" in out.getvalue() and "torch thread" in out.getvalue()
    slot.generator.close()


def test_the_worker_leaves_a_core_to_the_readers_and_the_caller_keeps_its_threads(small):  # noqa: F811 (the imported fixture)
    import os

    outside = torch.get_num_threads()  # 1: tests/conftest.py
    torch.set_num_threads(os.cpu_count() or 1)  # torch's own default: not what the worker takes, so a leak shows
    before = torch.get_num_threads()
    try:
        with Generator(small) as gen:
            seen = []
            step = gen.model_step

            def spy(ids, state):
                seen.append(torch.get_num_threads())
                return step(ids, state)
            spy.read = step.read
            gen.wrap_step(lambda _: spy)
            gen.generate("alice", 5, rng_seed=1)
            assert torch.get_num_threads() == before  # the caller's own setting
    finally:
        torch.set_num_threads(outside)
    assert seen and set(seen) == {max(1, min(before, (os.cpu_count() or 1) - 1))}
    assert f"of {os.cpu_count()} cores left to the readers" in gen.precision.reason
