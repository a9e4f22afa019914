"""How long `!learn gutenberg:N` / `/learn` takes on this machine, and the bits/char it reaches.

Serves BOOK from a local stand-in for Project Gutenberg (ALICE_GUTENBERG_MIRROR), then runs the
same job the bot runs (bot/learn/training_job.py: `python -m train gutenberg:N --progress-json` in a child at
a lower priority, fine-tuned from the library model, published into a models folder), with the
default budget unless --minutes is given. Prints the wall time from request to published model,
the steps, the held-out bits/char, the CPU and the load average before and after.

    python bench/learn_time.py BOOK [BOOK ...] [--minutes M] [--train-args "--threads 1"]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_speed import cpu_name  # noqa: E402  (a bench beside this one: python bench/learn_time.py)

from bot.learn.lesson import Lesson, temp_folder  # noqa: E402
from bot.learn.training_job import LearnJob  # noqa: E402


def serve_books(books: list[Path], root: Path) -> str:
    """Book i as gutenberg:(90001 + i) under `root`; the mirror's URL."""
    for number, book in enumerate(books, 90001):
        folder = root / "cache" / "epub" / str(number)
        folder.mkdir(parents=True)
        (folder / f"pg{number}.txt").write_bytes(book.read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    SimpleHTTPRequestHandler.log_message = lambda *args: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("books", nargs="+", type=Path)
    parser.add_argument("--minutes", type=float, default=None, help="training budget; default: the training defaults")
    parser.add_argument("--train-args", default="", help="extra options for python -m train")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["ALICE_GUTENBERG_MIRROR"] = serve_books(args.books, root / "mirror")
        os.environ["XDG_CACHE_HOME"] = str(root / "xdg")  # a fresh download and tokenisation, as a new book gets
        print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; python {platform.python_version()}")
        for number, book in enumerate(args.books, 90001):
            chars = len(book.read_text(encoding="utf-8-sig", errors="replace"))
            lesson = Lesson(f"gutenberg:{number}", f"book{number}", root / "models", args.minutes)
            job = LearnJob(lesson, temp_folder(lesson.folder, lesson.name), shlex.split(args.train_args))
            load = os.getloadavg()
            start = time.monotonic()
            job.start()
            outcome = job.wait()
            wall = time.monotonic() - start
            print(f"{book.name} ({chars:,} chars): {outcome.message}")
            if outcome.path is not None:
                metrics = json.loads((outcome.path / "config.json").read_text())["metrics"]
                print(f"  wall {wall:.0f} s request to served folder; {metrics['steps']} steps, "
                      f"{metrics['seconds']:.0f} s of steps, {metrics['best_val_bpc']:.4f} bits/char held out")
            print(f"  load average before {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, "
                  f"after {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f} / {os.getloadavg()[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
