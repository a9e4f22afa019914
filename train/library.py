"""`python -m train.library [--books DIR] [--out DIR] [OPTION ...]`: pretrain the library model.

The recipe is the one the bundled library model was made with (chosen by a sweep of sizes and
dropout, see docs/library-model.md). Books: the files listed in train/library.txt, read from
DIR (default ../shared/library when it exists) or else downloaded once each as gutenberg:N. Any
other OPTION goes to `python -m train` and wins over the recipe (--minutes, --device, ...). Stop it
at any time (Ctrl-C, or the machine going away after a checkpoint); `python -m train --resume --out
DIR` continues the same run, as often as needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LIST = Path(__file__).with_name("library.txt")
RECIPE = [
    "--from", "none", "--hidden", "512", "--layers", "2", "--embed", "64",
    "--dropout", "0.1", "--embed-dropout", "0.05", "--weight-drop", "0.1",
    "--batch", "128", "--seq-len", "200", "--lr", "2e-3", "--warmup-steps", "300",
    "--val-frac", "0.05", "--eval-chars", "0", "--eval-every", "1000", "--patience", "0",
    "--minutes", "6.3", "--checkpoint-minutes", "3",
    "--lexicon-min-count", "10",  # most distinct words of many books are rare ones: keep lexicon.txt small
]


def library_books(folder: Path | None) -> list[str]:
    """The listed books as files of `folder` when it holds them all, else as gutenberg:N."""
    rows = [line.split("\t") for line in LIST.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    if folder is not None and all((folder / name).is_file() for _, name, *_ in rows):
        return sorted(str(folder / name) for _, name, *_ in rows)
    return [f"gutenberg:{number}" for number, *_ in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.library", description=__doc__.splitlines()[0],
                                     epilog="Every other option is passed to python -m train (see its --help).")
    parser.add_argument("--books", type=Path, default=Path("../shared/library"),
                        help="folder holding the books' files (else they are downloaded as gutenberg:N)")
    parser.add_argument("--out", default="models/library", help="model folder to write")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    from train.__main__ import main as train_main

    books = library_books(args.books if args.books.is_dir() else None)
    return train_main([*books, "--out", args.out, *RECIPE, *rest])


if __name__ == "__main__":
    sys.exit(main())
