"""Best-of-K's speed curve (python bench/bestof_speed.py; bench/generate_speed.py prints it too).

For K = 1, 2, 4, 8, 16, 32, 64, one stream at a time through `Generator.stream`, seeds of 600-700
characters (openings from Through the Looking-Glass, else a fixed text): characters per second of
final text (what the reader gets), the median delay from the request to the first text, the int8
kernel's ceiling measured in the same run, and the share of it reached. The ceiling is one kept
character per step of K rows: 1 / (K x the per-row time of one step at K rows), the step timed as the
worker runs it. Then a busy channel: four streams started together, at the default K and at the K the
bot's load rule gives them (engine/bestof.py), the slowest one's characters per second (the best
pass), beside a stream's ceiling there (one kept character per step of all streams' rows) and the
share reached, and the share of the time the model's steps took (the slowest stream's speed were all
else free). The machine's CPU and load average are printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from sense import cpu_description, load_average  # noqa: E402  (bench/: the scripts' folder)

from engine import Generator  # noqa: E402
from engine.bestof import DEFAULT_BEST_OF, best_of_in_use  # noqa: E402
from engine.model import State  # noqa: E402
from engine.precision import step_times  # noqa: E402
from engine.steps import Step  # noqa: E402
from engine.threads import worker_threads  # noqa: E402

KS = (1, 2, 4, 8, 16, 32, 64)
BOOK = ROOT.parent / "shared" / "corpus" / "lookingglass.txt"
FALLBACK = ("the queen said to alice that she had better go on with the story, and alice went on as "
            "well as she could, though the king kept looking at her and saying nothing at all. ") * 8


def openings(count: int, chars: int = 650) -> list[str]:
    """`count` seeds of about `chars` characters (600-700: cut at word ends), spread over the book."""
    text = BOOK.read_text(encoding="utf-8").lower() if BOOK.is_file() else FALLBACK * 4
    text = " ".join(text.split())  # one line: what a person pastes
    seeds = []
    for i in range(count):
        start = text.find(" ", (len(text) - chars - 100) * (i + 1) // (count + 1)) + 1
        end = text.rfind(" ", start, start + chars) if len(text) > start + chars else len(text)
        seeds.append(text[start:end])
    return seeds


@dataclass
class Point:
    k: int
    chars_per_s: float  # final text, all seeds together
    first_ms: float  # median, request to first text
    ceiling: float  # 1 / (one step of K rows), chars/s
    @property
    def share(self) -> float:
        return self.chars_per_s / self.ceiling


def one_stream(gen: Generator, seeds: list[str], k: int, length: int) -> tuple[float, float]:
    """(chars/s of final text, median ms to the first text) of one stream at a time at best-of `k`."""
    written, seconds, firsts = 0, 0.0, []
    for i, seed in enumerate(seeds):
        start = time.perf_counter()
        for chunk in gen.stream(seed, length, rng_seed=i, best_of=k, exact=False):
            if len(firsts) == i:
                firsts.append(time.perf_counter() - start)
            written += len(chunk)
        seconds += time.perf_counter() - start
    return written / seconds, statistics.median(firsts) * 1000


def step_seconds(gen: Generator, rows: int) -> float:
    """One step of `rows` rows, timed as the worker runs it (its thread count), in a thread that then
    exits (a torch team left in the main thread would slow the worker: engine/generator.py)."""
    out: list[float] = []

    def measure() -> None:
        worker_threads()
        out.append(step_times({"step": gen.model_step}, gen.loaded.model, rows=rows, blocks=7,
                              per_block=5)["step"])
    thread = threading.Thread(target=measure)
    thread.start()
    thread.join()
    return out[0]


def curve(gen: Generator, seeds: list[str], ks: tuple[int, ...], length: int, rounds: int = 2) -> list[Point]:
    """Each K's figures: the best of `rounds` interleaved passes over every K (the writing and its
    ceiling alike), so that a neighbour's burst of CPU use on a shared machine skews the share less."""
    best: dict[int, Point] = {}
    for _ in range(rounds):
        for k in ks:
            chars_per_s, first_ms = one_stream(gen, seeds, k, length)
            ceiling = 1 / step_seconds(gen, k)
            old = best.get(k)
            best[k] = Point(k, max(chars_per_s, old.chars_per_s if old else 0),
                            min(first_ms, old.first_ms if old else first_ms), max(ceiling, old.ceiling if old else 0))
    return [best[k] for k in ks]


async def _busy(gen: Generator, seeds: list[str], k: int, length: int) -> list[float]:
    async def read(i: int) -> float:
        start, written = time.perf_counter(), 0
        async for chunk in gen.astream(seeds[i % len(seeds)], length, rng_seed=100 + i, best_of=k, exact=False):
            written += len(chunk)
        return written / (time.perf_counter() - start)
    return list(await asyncio.gather(*(read(i) for i in range(len(seeds)))))


def busy(gen: Generator, seeds: list[str], k: int, length: int) -> list[float]:
    """Each stream's chars/s of final text, `len(seeds)` streams at best-of `k` started together."""
    return asyncio.run(_busy(gen, seeds, k, length))


class TimedStep:
    """The worker's model step, timed: how much of a run its steps take, and their rows."""

    def __init__(self, step: Step) -> None:
        self.step, self.seconds, self.steps, self.rows = step, 0.0, 0, 0

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        start = time.perf_counter()
        out = self.step(ids, state)
        self.seconds += time.perf_counter() - start
        self.steps, self.rows = self.steps + 1, self.rows + len(ids)
        return out

    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        return self.step.read(ids, state)


def timed_busy(gen: Generator, seeds: list[str], k: int, length: int) -> tuple[list[float], float, float]:
    """`busy`, and the share of its time the model's steps took, and their mean rows."""
    timed = gen.wrap_step(TimedStep)
    start = time.perf_counter()
    try:
        each = busy(gen, seeds, k, length)
    finally:
        gen.wrap_step(lambda _: timed.step)
    return each, timed.seconds / (time.perf_counter() - start), timed.rows / max(timed.steps, 1)


def print_curve(gen: Generator, ks: tuple[int, ...] = KS, seeds: int = 3, length: int = 500,
                streams: int = 4, rounds: int = 2) -> None:
    """The curve and the busy channel, as a table."""
    texts = openings(seeds)
    print(f"best-of curve, {gen.precision.precision}: {seeds} seeds of {min(map(len, texts))}-"
          f"{max(map(len, texts))} characters, {length} characters each (exact=False), best of {rounds} "
          f"passes; load {load_average()}")
    print(f"{'best of':>8} {'chars/s':>8} {'first text ms':>14} {'ceiling chars/s':>16} {'share':>6}")
    for p in curve(gen, texts, ks, length, rounds):
        mark = " (default)" if p.k == DEFAULT_BEST_OF else ""
        print(f"{p.k:>8} {p.chars_per_s:>8.0f} {p.first_ms:>14.0f} {p.ceiling:>16.0f} {p.share:>6.0%}{mark}",
              flush=True)
    for k in sorted({DEFAULT_BEST_OF, best_of_in_use(DEFAULT_BEST_OF, streams)}, reverse=True):
        rule = " (the bot's load rule)" if k == best_of_in_use(DEFAULT_BEST_OF, streams) else ""
        runs = [timed_busy(gen, openings(streams), k, length) for _ in range(rounds)]
        each, model_share, rows = max(runs, key=lambda run: min(run[0]))  # the best pass, as the curve's
        ceiling = 1 / step_seconds(gen, streams * k)  # all streams' candidates in one step: a kept char each
        print(f"{streams} streams at once, best of {k}{rule}, best of {rounds} passes: slowest {min(each):.0f} "
              f"chars/s of final text "
              f"(each: {' '.join(f'{x:.0f}' for x in each)}), a stream's ceiling {ceiling:.0f} "
              f"({streams * k} rows a step), the slowest's share {min(each) / ceiling:.0%}; the model's steps took "
              f"{model_share:.0%} of the time ({rows:.1f} rows a step): were all else free, the slowest "
              f"{min(each) / model_share:.0f}; load {load_average()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default=",".join(map(str, KS)), help="best-of K values")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per K (one stream at a time)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved passes over every K; each figure the best")
    parser.add_argument("--length", type=int, default=500, help="characters each stream writes")
    parser.add_argument("--streams", type=int, default=4, help="streams at once in the busy-channel figure")
    parser.add_argument("--precision", default="int8", help="the generation precision (default int8)")
    args = parser.parse_args()
    print(f"CPU: {cpu_description()}; load average {load_average()}")
    with Generator(precision=args.precision) as gen:
        print_curve(gen, tuple(int(k) for k in args.ks.split(",")), args.seeds, args.length, args.streams, args.rounds)


if __name__ == "__main__":
    main()
