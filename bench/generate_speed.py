"""How fast the engine writes, measured side by side in one run (python bench/generate_speed.py).

Prints: characters per second of one stream; the same model driven the tutorial's way (re-feeding a
100-character window per character) and the ratio; total throughput of 16 concurrent streams against
one stream and the ratio; the delay from request to first character once the model is loaded; and
seconds from process start to the first generated character, for `python -m bot --seed ...` and for
a bare `python -c` that imports the engine. Each figure is the best of a few interleaved rounds, so
that a neighbour's burst of CPU use on a shared machine skews the ratios less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Generator  # noqa: E402
from engine.sampling import Sampling, sample_next  # noqa: E402

SEED = "alice was beginning to get very tired of sitting by her sister on the bank"
WINDOW = 100  # the tutorial's context: the last 100 characters, re-read for every new one
LENGTH = 2000  # characters each stream writes in the throughput figures (its seed is read first)
FIRST_CHAR_SNIPPET = """
from engine import Generator
gen = Generator()
print(next(iter(gen.stream("alice", 20))), flush=True)
gen.close()
"""


def one_stream(gen: Generator, length: int) -> float:
    """Characters per second of one stream, read through the ordinary iterator."""
    start = time.perf_counter()
    count = sum(len(chunk) for chunk in gen.stream(SEED, length, rng_seed=1))
    return count / (time.perf_counter() - start)


def tutorial_refeed(gen: Generator, length: int) -> float:
    """Characters per second the tutorial's way: whole window through the model for each character."""
    model, vocab = gen.loaded.model, gen.loaded.vocab
    ids, rng = vocab.encode(gen.prepare_seed(SEED)), random.Random(1)
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(length):
            window = torch.tensor([ids[-WINDOW:]], device=gen.loaded.device)
            logits, _ = model.read(window)  # the whole window, from an empty state
            ids.append(int(sample_next(logits, [Sampling()], [rng.random()])[0]))
    return length / (time.perf_counter() - start)


async def _concurrent(gen: Generator, streams: int, length: int) -> float:
    async def read(i: int) -> int:
        return sum([len(chunk) async for chunk in gen.astream(f"{SEED} {i}", length, rng_seed=i)])

    start = time.perf_counter()
    counts = await asyncio.gather(*(read(i) for i in range(streams)))
    return sum(counts) / (time.perf_counter() - start)


def concurrent(gen: Generator, streams: int, length: int) -> float:
    """Total characters per second of `streams` async readers started together (as the Discord bot reads)."""
    return asyncio.run(_concurrent(gen, streams, length))


def first_char_ms(gen: Generator, seed: str, rounds: int = 5) -> float:
    """Median delay from asking for a stream to holding its first character (the model already loaded)."""
    delays = []
    for i in range(rounds):
        start = time.perf_counter()
        stream = gen.stream(seed, 10, rng_seed=i)
        next(stream)
        delays.append(time.perf_counter() - start)
        stream.close()
    return statistics.median(delays) * 1000


def process_first_char(command: list[str]) -> float | None:
    """Seconds from launching `command` to the first byte it writes to stdout (None if it fails)."""
    start = time.time()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.read(1)
    elapsed = time.time() - start
    proc.communicate(timeout=60)
    return elapsed if first and proc.returncode == 0 else None


def in_own_thread(fn, *args):
    """Run fn in a thread that then exits, taking its OpenMP team with it: a team left alive in the
    main thread would slow the Generator's worker (see engine/generator.py)."""
    out = []
    worker = threading.Thread(target=lambda: out.append(fn(*args)))
    worker.start()
    worker.join()
    return out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; each figure is the best")
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams")
    parser.add_argument("--model", help="model folder or bundled model's name (default: the bundled alice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model:
        os.environ["ALICE_MODEL"] = args.model  # the processes started below load it too
    print(f"CPU: {cpu_description()}")

    load_start = time.perf_counter()
    gen = Generator()
    load_s = time.perf_counter() - load_start
    cfg = gen.loaded.model.config
    print(f"model {gen.loaded.name}: {cfg.layers}x{cfg.hidden} LSTM, {cfg.vocab_size} characters, "
          f"fp32 on {gen.loaded.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"loaded in {load_s:.2f} s")

    single, refeed, many, many_one = [], [], [], []
    for _ in range(args.rounds):  # every stream writes LENGTH characters, alone or among others
        single.append(one_stream(gen, LENGTH))
        refeed.append(in_own_thread(tutorial_refeed, gen, 150))
        many_one.append(concurrent(gen, 1, LENGTH))
        many.append(concurrent(gen, args.streams, LENGTH))
    best = max
    print(f"one stream:                    {best(single):8.0f} chars/s   (rounds: {_list(single)})")
    print(f"tutorial {WINDOW}-char window re-feed:{best(refeed):8.0f} chars/s   (rounds: {_list(refeed)})")
    print(f"  one stream / re-feed:        {best(single) / best(refeed):8.1f} x  (target >= 30)")
    print(f"one async stream:              {best(many_one):8.0f} chars/s   (rounds: {_list(many_one)})")
    print(f"{args.streams} concurrent async streams:  {best(many):8.0f} chars/s   (rounds: {_list(many)})")
    print(f"  {args.streams} streams / one stream:     {best(many) / best(single):8.1f} x  "
          f"(vs one async stream {best(many) / best(many_one):.1f} x; target >= 8)")
    delays = {n: first_char_ms(gen, ("the queen said " * 150)[-n:]) for n in (5, 200, 1000, 2000)}
    print("first char after request:      " + ", ".join(f"{ms:.1f} ms ({n}-char seed)" for n, ms in delays.items())
          + "   (target <= 50)")
    gen.close()

    for name, command in [
        ("python -m bot --seed alice --len 20", [sys.executable, "-m", "bot", "--seed", "alice", "--len", "20"]),
        ("python -c (import engine, load, first char)", [sys.executable, "-c", FIRST_CHAR_SNIPPET]),
    ]:
        if command[2] == "bot" and not (ROOT / "bot" / "__main__.py").exists():
            print(f"process start -> first char, {name}: skipped (no bot/__main__.py)")
            continue
        times = [t for t in (process_first_char(command) for _ in range(2)) if t is not None]
        shown = f"{min(times):.2f} s" if times else "failed"
        print(f"process start -> first char, {name}: {shown}   (target <= 3)")


def cpu_description() -> str:
    """'<model name>, N cores, L2 ..., flags ...': what a figure from this run depends on."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = [f for f in fields.get("flags", "").split() if f.startswith(("avx512", "amx")) or f in ("avx2", "fma")]
    l2 = ""
    l2_path = Path("/sys/devices/system/cpu/cpu0/cache/index2/size")
    if l2_path.exists():
        l2 = f", L2 {l2_path.read_text().strip()} per core"
    family = f" (family {fields.get('cpu family', '?')} model {fields.get('model', '?')})"
    return f"{fields.get('model name', 'unknown')}{family}, {os.cpu_count()} cores{l2}, {' '.join(flags) or 'no AVX'}"


def _list(values: list[float]) -> str:
    return " ".join(f"{v:.0f}" for v in values)


if __name__ == "__main__":
    main()
