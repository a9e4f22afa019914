"""What a lexicon's size costs the guide: build time and peak memory (python bench/lexicon_size.py).

For each size, a lexicon of random lowercase words (5-14 letters: the worst case, few shared prefixes
or endings, so the most trie nodes per byte) is written beside the bundled model's files in a temp
folder; a fresh process loads that folder and builds its guide, and reports its seconds and peak RSS.
Sizes above engine.lexicon.GUIDE_MAX_BYTES show the refusal instead (the guide is off, load is fast).
Prints the machine's load average: on a shared machine the seconds are the neighbours' too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# peak RSS from VmHWM: ru_maxrss would carry over the parent's peak through fork and exec
MEASURE = """
import re, sys, time
start = time.monotonic()
from engine.modelfolder import load_model_folder
loaded = load_model_folder(sys.argv[1], device="cpu")
guide = loaded.guide
peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 2**20
print(f"{time.monotonic() - start:.1f} {peak:.2f} {0 if guide is None else guide.states}")
"""


def write_lexicon(path: Path, words: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    found: set[str] = set()
    while len(found) < words:
        lengths = rng.integers(5, 15, size=words - len(found))
        text = "".join(letters[rng.integers(0, 26, size=int(lengths.sum()))].tolist())
        ends = np.cumsum(lengths)
        found.update(text[end - n:end] for end, n in zip(ends.tolist(), lengths.tolist(), strict=True))
    path.write_text("# random words\n" + "".join(f"{w} 1\n" for w in sorted(found)), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, nargs="+", default=[30_000, 100_000, 300_000, 2_000_000])
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    print(f"{'words':>10} {'MB':>6} {'seconds':>8} {'peak GB':>8} {'states':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        shutil.copytree(ROOT / "engine" / "models" / "alice", folder)
        for words in args.words:
            write_lexicon(folder / "lexicon.txt", words)
            size = (folder / "lexicon.txt").stat().st_size / 2**20
            out = subprocess.run([sys.executable, "-c", MEASURE, str(folder)], capture_output=True, text=True,
                                 cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
            seconds, peak, states = out.split()
            print(f"{words:>10,} {size:>6.1f} {seconds:>8} {peak:>8} {int(states):>9,}"
                  + ("  (guide off: over the limit)" if states == "0" else ""))


if __name__ == "__main__":
    main()
