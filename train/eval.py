"""`python -m train.eval MODEL_DIR FILE`: bits per character of a model on any text.

The text is cleaned exactly as training text is (decoding, Gutenberg header/footer, case);
characters the model never saw are scored through its unknown-character policy, never a crash.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from train.corpus import Book


def bits_per_char(model_dir: Path, spec: str, device: str = "cpu") -> tuple[float, int, Book]:
    """(bits per character, characters scored, the book as read) of the model in `model_dir` on `spec`."""
    import numpy as np

    from engine.modelfolder import load_model_folder
    from train.corpus import read_book
    from train.data import encode_to_array
    from train.loop import evaluate

    loaded = load_model_folder(model_dir, device)
    book = read_book(spec, lowercase=loaded.vocab.lowercase, min_chars=2)
    ids = encode_to_array(book.text, loaded.vocab).astype(np.int64)
    nats = evaluate(loaded.model, ids, loaded.device, amp=False)
    return nats / math.log(2), len(ids) - 1, book


def record_score(model_dir: Path, book: Book, bpc: float, scored: int, argv: list[str]) -> None:
    """Add this score to config.json's metrics.eval, keyed by the book's name (its file name)."""
    import json
    import shlex

    from engine.modelfolder import write_atomic

    path = Path(model_dir) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    scores = config.setdefault("metrics", {}).setdefault("eval", {})
    scores[book.name] = {"bpc": round(bpc, 4), "chars": scored, "sha256": book.sha256,
                         "command": "python -m train.eval " + shlex.join(argv)}
    write_atomic(path, json.dumps(config, ensure_ascii=False, indent=2).encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.eval", description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="model folder (model.safetensors, vocab.json, config.json)")
    parser.add_argument("file", help="text file or gutenberg:N to score")
    parser.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda")
    parser.add_argument("--record", action="store_true",
                        help="also store the score in the model's config.json (metrics.eval)")
    args = parser.parse_args(argv)
    from engine.modelfolder import resolve_model_dir

    args.model_dir = resolve_model_dir(args.model_dir)  # a bundled model's name works too
    from engine.modelfolder import ModelFolderError
    from train.gutenberg import CorpusError

    try:
        bpc, scored, book = bits_per_char(args.model_dir, args.file, args.device)
    except (ModelFolderError, CorpusError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.record:
        record_score(args.model_dir, book, bpc, scored, argv if argv is not None else sys.argv[1:])
    from engine.modelfolder import read_model_info, recorded_base

    base = recorded_base(read_model_info(args.model_dir)[1])
    print(f"model: {args.model_dir}" + (f" (fine-tuned from {base})" if base else ""))
    print(f"text: {args.file} ({scored:,} characters scored)")
    print(f"bpc: {bpc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
