"""Memory on a big corpus: peak RSS of `python -m train` on ~300 MB of real text, and the cost
of tokenising it once versus reusing the cached id file.

    python bench/memory.py [--mb 300] [--minutes 0.5]

The corpus is tinyshakespeare repeated into a temp folder; the token cache goes there too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "corpus" / "tinyshakespeare.txt"


def run_training(book: Path, out: Path, minutes: float, env: dict) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, stderr) of one training process."""
    cmd = [sys.executable, "-m", "train", str(book), "--out", str(out), "--minutes", str(minutes),
           "--from", "none", "--no-progress", "--eval-every", "50", "--sample-chars", "0"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"training failed:\n{err}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="corpus size in MB")
    parser.add_argument("--minutes", type=float, default=0.5, help="training budget of each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        text = SOURCE.read_bytes()
        book = tmp_path / "big.txt"
        with open(book, "wb") as fh:
            for _ in range(args.mb * 1_000_000 // len(text) + 1):
                fh.write(text)
        size = book.stat().st_size
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        print(f"corpus: {size / 1e6:.0f} MB ({SOURCE.name} repeated)")
        for label in ("first run (tokenises)", "second run (cached ids)"):
            rss, wall, err = run_training(book, tmp_path / "model", args.minutes, env)
            tok = re.search(r"tokenised in ([\d.]+) s", err)
            ids = sum(f.stat().st_size for f in (tmp_path / "cache").rglob("*.ids"))
            how = f"tokenised in {tok.group(1)} s" if tok else "ids reused from cache"
            print(f"{label}: peak RSS {rss:,.0f} MB, {how}, {wall:.0f} s wall in all "
                  f"(id files {ids / 1e6:.0f} MB on disk, memory-mapped)")


if __name__ == "__main__":
    main()
