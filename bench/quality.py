"""How good are the models? Bits per character on Alice's held-out tail and on Through the
Looking-Glass, and the share of invented words in what each writes at the default settings.

    python bench/quality.py                                  # the bundled alice and library models
    python bench/quality.py --model scratch=runs/alice-scratch --model alice --model library

An invented word is one in neither the book (Alice's Adventures in Wonderland, whole) nor
/usr/share/dict/words (Debian's wamerican-large; install it where you measure). Generation uses
the default sampling settings in int8 (--precision; auto would pick by the machine's load), one
rng seed per seed text, so every run on one machine writes the same text.
"""

from __future__ import annotations

import argparse
import math
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.generator import Generator  # noqa: E402
from engine.modelfolder import load_model_folder  # noqa: E402
from train.corpus import read_book  # noqa: E402
from train.data import encode_to_array, split_texts  # noqa: E402
from train.scoring import evaluate  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
DICTIONARY = Path("/usr/share/dict/words")
WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")  # letters with inner apostrophes; hyphens and dashes split words
SEEDS = [
    "alice was beginning to get very tired", "the queen said", "the mock turtle", "“who are you?” said the caterpillar",
    "the cheshire cat", "down the rabbit-hole", "the king and queen of hearts", "the duchess",
    "she went on", "the white rabbit", "the hatter", "the dormouse", "a large mushroom", "the garden",
    "the jury", "once upon a time", "“what is the use of a book,” thought alice", "the march hare",
    "the gryphon", "the little door",
]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def words_of(text: str) -> list[str]:
    return WORD.findall(text.lower().replace("\u2019", "'").replace("\u2018", "'"))


def written_words(text: str, seed: str = "") -> list[str]:
    """The words of `text` written after `seed`: a word begun in the seed counts whole ("the garden" +
    "ers!" writes "gardeners"), a word the end of the text cuts off does not (it was not finished)."""
    whole = (seed + text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return [m.group() for m in WORD.finditer(whole) if len(seed) < m.end() < len(whole)]


def bits_per_char(model_dir: str, text: str) -> float:
    loaded = load_model_folder(model_dir)
    ids = encode_to_array(loaded.vocab.normalize(text), loaded.vocab).astype(np.int64)
    return evaluate(loaded.model, ids, loaded.device, amp=False) / math.log(2)


def known_words(book: str, dictionary: bool = True) -> set[str]:
    """The words that are not invented: the book's (normalised text) and, with `dictionary`, those of
    /usr/share/dict/words."""
    listed = DICTIONARY.read_text(encoding="utf-8", errors="replace") if dictionary else ""
    return set(words_of(listed)) | set(words_of(book))


def samples(generator: Generator, chars: int, **options) -> list[str]:
    """What the generator writes after each of SEEDS (rng seed 1, 2, ...), `options` as for `generate`."""
    return [generator.generate(seed, chars, rng_seed=i, **options) for i, seed in enumerate(SEEDS, start=1)]


def invented_in(texts: list[str], known: set[str], seeds: list[str] = SEEDS) -> tuple[float, int, list[str]]:
    """(share of invented words, words written, the distinct invented words) over `texts`, each written
    after its seed (see `written_words`)."""
    written = [w for seed, text in zip(seeds, texts, strict=True) for w in written_words(text, seed)]
    invented = [w for w in written if w not in known]
    return len(invented) / max(1, len(written)), len(written), sorted(set(invented))


def invented_share(model_dir: str, known: set[str], chars: int, precision: str = "int8") -> tuple[
        float, int, list[str]]:
    """`invented_in` of what the model writes at the default settings after each of SEEDS, in `precision`."""
    with Generator(model_dir, precision=precision) as generator:
        return invented_in(samples(generator, chars), known)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", metavar="[LABEL=]DIR",
                        help="a model folder or bundled model's name (repeatable; default: alice, library)")
    parser.add_argument("--chars", type=int, default=1000, help="characters written per seed")
    parser.add_argument("--precision", default="int8",
                        help="the generation precision (default int8; auto would pick by the machine's load, "
                             "and its texts with it)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    models = [m.split("=", 1) if "=" in m else (m, m) for m in (args.model or ["alice", "library"])]
    wonderland, lookingglass = CORPUS / "wonderland.txt", CORPUS / "lookingglass.txt"
    if not wonderland.is_file():
        print(f"needs the corpus at {CORPUS}", file=sys.stderr)
        return 2
    book = read_book(str(wonderland), lowercase=True, min_chars=2).text
    _, tails = split_texts([book], 0.1)
    text, start, end = tails[0]
    alice_tail = text[start:end]
    glass = read_book(str(lookingglass), lowercase=True, min_chars=2).text
    if not DICTIONARY.is_file():
        print(f"needs {DICTIONARY} (Debian: apt-get install wamerican-large)", file=sys.stderr)
        return 2
    known = known_words(book)
    print(f"CPU: {cpu_name()}; torch {torch.__version__}; {len(SEEDS)} seeds x {args.chars} characters; "
          f"Alice's tail {len(alice_tail):,} characters, Looking-Glass {len(glass):,}")
    print(f"{'model':<16} {'Alice tail':>10} {'Looking-Glass':>13} {'invented':>9} {'words':>7}  examples")
    for label, path in models:
        started = time.perf_counter()
        tail_bpc, glass_bpc = bits_per_char(path, alice_tail), bits_per_char(path, glass)
        share, count, invented = invented_share(path, known, args.chars, args.precision)
        print(f"{label:<16} {tail_bpc:>10.4f} {glass_bpc:>13.4f} {share:>8.2%} {count:>7}  "
              f"{', '.join(invented[:8])} ({len(invented)} distinct; {time.perf_counter() - started:.0f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
