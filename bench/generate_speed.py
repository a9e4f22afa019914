"""How fast the engine writes, measured side by side in one run (python bench/generate_speed.py).

Prints, for every generation precision this machine runs (fp32, int8, bf16: engine/steps/),
side by side, and which one `auto` chose: characters per second of one stream; the same model driven
the tutorial's way (re-feeding a 100-character window per character, fp32) and the ratio; total
throughput of 16 concurrent streams against one stream and the ratio; the delay from request to
first character once the model is loaded; and
seconds from process start to the first generated character, for `python -m bot --seed ...` and for
a bare `python -c` that imports the engine. Then the floors those figures stand on, measured on the
same machine in the same run: the model's step alone for one row and for 16 (so the most 16 streams
can gain over one here), its read of the longest seed, and `python -c "import torch"` alone. Then
best-of-K's curve (bench/bestof_speed.py): final text per second at K = 1 ... 64, first-text delay,
the int8 kernel's ceiling measured in the same run and the share reached, and four streams at once. Each
figure is the best of a few interleaved rounds, so that a neighbour's burst of CPU use on a shared
machine skews the ratios less. `--case both` measures every precision twice, side by side: streams
shown in the book's case (engine/casing.py, the default) and as the model writes them (lowercase).
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

from bestof_speed import KS, print_curve  # noqa: E402  (bench/: the scripts' folder)

from engine import Conversation, Generator  # noqa: E402
from engine.conversation import MODEL  # noqa: E402
from engine.precision import step_times  # noqa: E402
from engine.sampling import Sampling, sample_next  # noqa: E402
from engine.steps import PRECISIONS  # noqa: E402
from engine.steps.build import unavailable  # noqa: E402
from engine.threads import worker_threads  # noqa: E402

SEED = "alice was beginning to get very tired of sitting by her sister on the bank"
WINDOW = 100  # the tutorial's context: the last 100 characters, re-read for every new one
LENGTH = 2000  # characters each stream writes in the throughput figures (its seed is read first)
FIRST_CHAR_SNIPPET = """
from engine import Generator
gen = Generator()
print(next(iter(gen.stream("alice", 20))), flush=True)
gen.close()
"""


def long_seed(chars: int) -> str:
    """A seed of `chars` characters (up to 2,250) of plain words."""
    return ("the queen said " * 150)[-chars:]


def one_stream(gen: Generator, length: int, case: str = "book") -> float:
    """Characters per second of one stream, read through the ordinary iterator."""
    start = time.perf_counter()
    count = sum(len(chunk) for chunk in gen.stream(SEED, length, rng_seed=1, case=case))
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


async def _concurrent(gen: Generator, streams: int, length: int, case: str) -> float:
    async def read(i: int) -> int:
        return sum([len(chunk) async for chunk in gen.astream(f"{SEED} {i}", length, rng_seed=i, case=case)])

    start = time.perf_counter()
    counts = await asyncio.gather(*(read(i) for i in range(streams)))
    return sum(counts) / (time.perf_counter() - start)


def concurrent(gen: Generator, streams: int, length: int, case: str = "book") -> float:
    """Total characters per second of `streams` async readers started together (as the Discord bot reads)."""
    return asyncio.run(_concurrent(gen, streams, length, case))


def first_char_ms(gen: Generator, seed: str, rounds: int = 5, case: str = "book") -> float:
    """Median delay from asking for a stream to holding its first character (the model already loaded)."""
    delays = []
    for i in range(rounds):
        start = time.perf_counter()
        stream = gen.stream(seed, 10, rng_seed=i, case=case)
        next(stream)
        delays.append(time.perf_counter() - start)
        stream.close()
    return statistics.median(delays) * 1000


def next_turn_first_char_ms(gen: Generator, rounds: int = 5) -> tuple[float, float]:
    """Median delay to the first character of a story's next turn, its state cached (a 2,000-character
    story went on for a turn, then a person adds a line), and the bytes the cache keeps per state."""
    delays, sizes = [], []
    for i in range(rounds):
        story = Conversation.of(long_seed(2000))
        story.add(gen.generate(story, 200, rng_seed=i, exact=False), MODEL)  # its end state is cached
        sizes.append(gen.states.bytes / max(1, len(gen.states)))
        story.add("said alice")
        start = time.perf_counter()
        stream = gen.stream(story, 10, rng_seed=i)
        next(stream)
        delays.append(time.perf_counter() - start)
        stream.close()
    return statistics.median(delays) * 1000, statistics.median(sizes)


def model_alone(gen: Generator, streams: int, seed_chars: int) -> tuple[float, float, float]:
    """The model's own share, timed as the worker runs it (same thread count): seconds a step for one
    row and for `streams` rows, and seconds to read a `seed_chars` seed. What the figures above stand
    on: N streams write R times as fast as one only if a step of N rows costs at most N / R times a
    step of one (the model's share of it included), and a first character comes no sooner than the
    read."""
    def measure() -> tuple[float, float, float]:
        worker_threads()
        step, model = gen._batch.model_step, gen.loaded.model
        with torch.inference_mode():
            one = step_times({"step": step}, model, rows=1, blocks=9, per_block=20)["step"]
            many = step_times({"step": step}, model, rows=streams, blocks=5, per_block=5)["step"]
            ids = torch.tensor([gen.loaded.vocab.encode(long_seed(seed_chars))])
            reads = []
            for _ in range(5):
                start = time.perf_counter()
                step.read(ids)
                reads.append(time.perf_counter() - start)
        return one, many, min(reads)
    return in_own_thread(measure)


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
    parser.add_argument("--no-curve", dest="curve", action="store_false",
                        help="best-of curve at K = 1 and 16 only (default: 1, 2, 4, 8, 16, 32, 64)")
    parser.add_argument("--precision", action="append", choices=PRECISIONS,
                        help="measure only these precisions (repeatable; default: every one this machine runs)")
    parser.add_argument("--case", choices=("book", "lower", "both"), default="book",
                        help="streams shown in the book's case, lowercase, or both side by side (default: book)")
    args = parser.parse_args()
    cases = ("book", "lower") if args.case == "both" else (args.case,)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model:
        os.environ["ALICE_MODEL"] = args.model  # the processes started below load it too
    print(f"CPU: {cpu_description()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    load_start = time.perf_counter()
    auto = Generator(args.model)
    load_s = time.perf_counter() - load_start
    cfg = auto.loaded.model.config
    print(f"model {auto.loaded.name}: {cfg.layers}x{cfg.hidden} LSTM, {cfg.vocab_size} characters on "
          f"{auto.loaded.device}; loaded (auto included) in {load_s:.2f} s")
    print(f"auto chose {auto.precision.precision}: {auto.precision.reason}")
    auto.close()
    wanted = args.precision or [p for p in PRECISIONS if unavailable(p, torch.device("cpu")) is None]
    for p in PRECISIONS:
        if p not in wanted:
            print(f"{p}: not measured ({unavailable(p, torch.device('cpu')) or 'not asked for'})")
    by_precision = {p: Generator(args.model, precision=p) for p in wanted}
    # a column per precision, and per case with --case both ("int8 lower": the streams' text as written)
    gens = {p if len(cases) == 1 else f"{p} {c}": by_precision[p] for p in wanted for c in cases}
    case_of = {column: cases[i % len(cases)] for i, column in enumerate(gens)}

    single = {p: [] for p in gens}
    many = {p: [] for p in gens}
    refeed = []
    for _ in range(args.rounds):  # every stream writes LENGTH characters, alone or among others
        refeed.append(in_own_thread(tutorial_refeed, by_precision[wanted[0]], 150))
        for p, gen in gens.items():
            single[p].append(one_stream(gen, LENGTH, case_of[p]))
            many[p].append(concurrent(gen, args.streams, LENGTH, case_of[p]))
    best = max
    print(f"tutorial {WINDOW}-char window re-feed (fp32): {best(refeed):.0f} chars/s   (rounds: {_list(refeed)})")
    seeds = (5, 200, 1000, 2000)
    rows = [("one stream, chars/s", {p: f"{best(single[p]):.0f}" for p in gens}),
            ("  / re-feed (target >= 50)", {p: f"{best(single[p]) / best(refeed):.1f} x" for p in gens}),
            (f"{args.streams} streams, chars/s", {p: f"{best(many[p]):.0f}" for p in gens}),
            ("  / one stream (target >= 12)", {p: f"{best(many[p]) / best(single[p]):.1f} x" for p in gens})]
    for n in seeds:
        rows.append((f"first char, {n}-char seed, ms", {p: f"{first_char_ms(gen, long_seed(n), case=case_of[p]):.1f}"
                                                          for p, gen in gens.items()}))
    turns = {p: next_turn_first_char_ms(gen) for p, gen in gens.items()}  # (ms, bytes per cached state)
    rows.append(("first char, next turn (cached), ms", {p: f"{ms:.1f}" for p, (ms, _) in turns.items()}))
    limit = next(iter(gens.values())).max_seed_chars
    alone = {p: model_alone(gen, args.streams, limit) for p, gen in gens.items()}
    rows += [("model alone: 1-row step, us", {p: f"{a[0] * 1e6:.0f}" for p, a in alone.items()}),
             (f"model alone: {args.streams}-row step, us", {p: f"{a[1] * 1e6:.0f}" for p, a in alone.items()}),
             (f"  {args.streams} rows / 1 row (12x needs <= {args.streams / 12:.2f})",
              {p: f"{a[1] / a[0]:.2f}" for p, a in alone.items()}),
             ("model alone: seed read, ms", {p: f"{a[2] * 1e3:.1f}" for p, a in alone.items()})]
    width = max(10, *(len(p) + 2 for p in gens))
    print(f"{'':34}" + "".join(f"{p:>{width}}" for p in gens))
    for label, values in rows:
        print(f"{label:34}" + "".join(f"{values[p]:>{width}}" for p in gens))
    print("rounds, one stream: " + "; ".join(f"{p} {_list(single[p])}" for p in gens))
    print(f"rounds, {args.streams} streams: " + "; ".join(f"{p} {_list(many[p])}" for p in gens))
    print(f"seeds are read up to their last {limit} characters (ALICE_MAX_SEED_CHARS)")
    print("next turn (cached): a 2,000-character story with one turn written, then a 10-character line; "
          "the state cache keeps " + ", ".join(f"{p} {size:,.0f}" for p, (_, size) in turns.items())
          + " bytes per state (h and c: layers x hidden floats each, the logits: vocab floats), two per turn")
    curve_gen = by_precision.get("int8") or next(iter(by_precision.values()))  # bench/bestof_speed.py
    print_curve(curve_gen, KS if args.curve else (1, 16))
    for gen in by_precision.values():
        gen.close()

    for name, command in [
        ("python -m bot --seed alice --len 20", [sys.executable, "-m", "bot", "--seed", "alice", "--len", "20"]),
        ("python -c (import engine, load, first char)", [sys.executable, "-c", FIRST_CHAR_SNIPPET]),
        ("python -c 'import torch' alone (the floor)", [sys.executable, "-c", "import torch; print(1)"]),
    ]:
        times = [t for t in (process_first_char(command) for _ in range(2)) if t is not None]
        shown = f"{min(times):.2f} s" if times else "failed"
        print(f"process start -> first char, {name}: {shown}   (target <= 1.5)")


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
