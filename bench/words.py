"""Lexicon-guided sampling against free sampling, side by side in one run (python bench/words.py).

For one model (default: the bundled alice) at the default settings, 20 seeds x 1,000 characters in
each mode (`words="free"` and `words="lexicon"`, the same rng seeds):
- invented words: the share of written words in neither the book (Alice's Adventures in Wonderland)
  nor /usr/share/dict/words, counted as bench/quality.py counts them; and the share of words (their
  hyphen-separated parts) outside the model's lexicon, which lexicon mode keeps at 0 by construction
  (a lexicon word from another book, "peggotty", is invented by the first count, not the second);
- what the constraint costs: the mean log-probability per character of each mode's text under the
  model's own free distribution (temperature 1, no cut-offs), and the gap between them;
- throughput of 1 stream and of 16 concurrent streams in each mode, rounds interleaved, best of each:
  characters per second of wall time, and per second of this process's CPU time (on a machine
  shared with other jobs the wall clock mostly measures the neighbours; run with --threads 1 there,
  so that no OpenMP thread spins while waiting for a core).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate_speed import SEED, cpu_description, in_own_thread  # noqa: E402
from quality import CORPUS, DICTIONARY, SEEDS, invented_in, known_words, samples  # noqa: E402

from engine import Generator  # noqa: E402
from engine.lexicon import WORD, Lexicon, fold  # noqa: E402
from train.corpus import read_book  # noqa: E402

MODES = ("free", "lexicon")


def mean_log_prob(generator: Generator, seeds: list[str], texts: list[str]) -> float:
    """Mean natural log-probability per character of each text after its seed, under the model's
    own distribution (softmax of its logits, nothing cut off)."""
    model, vocab = generator.loaded.model, generator.loaded.vocab
    total, count = 0.0, 0
    with torch.inference_mode():
        for seed, text in zip(seeds, texts, strict=True):
            context = vocab.encode(generator.prepare_seed(seed))
            ids = torch.tensor([context + vocab.encode(vocab.normalize(text))], device=generator.loaded.device)
            logits, _ = model(ids[:, :-1])
            logp = torch.log_softmax(logits.float(), -1)[0, len(context) - 1:]
            total += logp.gather(1, ids[0, len(context):, None]).sum().item()
            count += ids.shape[1] - len(context)
    return total / max(1, count)


def outside(texts: list[str], lexicon: Lexicon | None) -> float:
    """The share of words written after SEEDS (their parts between hyphens, case and apostrophes
    folded) that no lexicon word has; words as bench/quality.py's `written_words` takes them."""
    if lexicon is None:
        return math.nan
    key = lambda word: "".join(fold(ch) for ch in word)  # noqa: E731
    known = {key(part) for word in lexicon.counts for part in word.split("-")}
    parts = [key(part) for seed, text in zip(SEEDS, texts, strict=True) for m in WORD.finditer(seed + text)
             if len(seed) < m.end() < len(seed + text) for part in m.group().split("-")]
    return sum(part not in known for part in parts) / max(1, len(parts))


async def _streams(generator: Generator, count: int, length: int, words: str) -> float:
    async def read(i: int) -> int:
        return sum([len(chunk) async for chunk in generator.astream(f"{SEED} {i}", length, rng_seed=i, words=words)])

    start, cpu = time.perf_counter(), time.process_time()
    written = sum(await asyncio.gather(*(read(i) for i in range(count))))
    return written / (time.perf_counter() - start), written / (time.process_time() - cpu)


def throughput(generator: Generator, count: int, length: int, words: str) -> tuple[float, float]:
    """Total characters per second of `count` concurrent streams (as the Discord bot reads them): per
    second of wall time, and per second of CPU time."""
    return asyncio.run(_streams(generator, count, length, words))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="alice", help="model folder or bundled model's name")
    parser.add_argument("--chars", type=int, default=1000, help="characters written per seed")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved throughput rounds; each figure is the best")
    parser.add_argument("--length", type=int, default=2000, help="characters per stream in the throughput rounds")
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--precision", default="int8",
                        help="the generation precision (default int8; auto would pick by the machine's load, "
                             "and its texts with it)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"CPU: {cpu_description()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    book = read_book(str(CORPUS / "wonderland.txt"), lowercase=True, min_chars=2).text
    known = known_words(book) if DICTIONARY.is_file() else None
    if known is None:
        print(f"note: {DICTIONARY} is missing (Debian: apt-get install wamerican-large): invented words are "
              f"counted against the book alone")
        known = known_words(book, dictionary=False)
    with Generator(args.model, precision=args.precision) as generator:
        lexicon = generator.loaded.lexicon
        print(f"model {generator.loaded.name}: lexicon of {len(lexicon):,} words" if lexicon is not None else
              f"model {generator.loaded.name}: no lexicon.txt (lexicon mode writes freely)")
        texts = {mode: samples(generator, args.chars, words=mode) for mode in MODES}
        print(f"{len(SEEDS)} seeds x {args.chars:,} characters, default settings, the same rng seeds in both modes")
        print(f"{'mode':<8} {'invented':>9} {'words':>6} {'outside lexicon':>16} {'log-prob/char':>14}  "
              f"invented examples")
        logp = {}
        for mode in MODES:
            share, count, invented = invented_in(texts[mode], known)
            logp[mode] = in_own_thread(mean_log_prob, generator, SEEDS, texts[mode])  # its OpenMP team goes with it
            print(f"{mode:<8} {share:>8.2%} {count:>6} {outside(texts[mode], lexicon):>15.2%} {logp[mode]:>14.4f}  "
                  f"{', '.join(invented[:8]) or '-'} ({len(invented)} distinct)")
        gap = logp["lexicon"] - logp["free"]
        print(f"lexicon - free: {gap:+.4f} nats/char ({gap / math.log(2):+.4f} bits/char) under the free model")
        speeds: dict[tuple[int, str], list[tuple[float, float]]] = {(n, m): [] for n in (1, args.streams)
                                                                    for m in MODES}
        for r in range(args.rounds):  # interleaved, each round in the other order: a neighbour's burst hits both
            for count in (1, args.streams):
                for mode in MODES if r % 2 == 0 else MODES[::-1]:
                    speeds[count, mode].append(throughput(generator, count, args.length, mode))
    for count in (1, args.streams):
        for clock, name in ((0, "wall"), (1, "CPU ")):
            free, guided = (max(v[clock] for v in speeds[count, m]) for m in MODES)
            # each round ran both modes back to back: its ratio is the least touched by the neighbours' drift
            pairs = zip(speeds[count, "free"], speeds[count, "lexicon"], strict=True)
            paired = statistics.median(g[clock] / f[clock] for f, g in pairs)
            rounds = "; ".join(f"{m} " + " ".join(f"{v[clock]:.0f}" for v in speeds[count, m]) for m in MODES)
            print(f"{count:>2} stream{'s' if count > 1 else ' '}, chars per {name} s: best free {free:6.0f}, lexicon "
                  f"{guided:6.0f} ({guided / free:.3f}); lexicon/free, median of the rounds' ratios {paired:.3f} "
                  f"(target >= 0.90)   (rounds: {rounds})")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
