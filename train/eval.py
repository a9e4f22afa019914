"""`python -m train.eval MODEL_DIR FILE`: bits per character of a model on any text.

The text is cleaned exactly as training text is (decoding, Gutenberg header/footer, case);
characters the model never saw are scored through its unknown-character policy, never a crash.
With `--precision P` the model is also scored in generation precision P (see engine/steps/)
beside fp32, and the difference is its cost; `--record` stores it, bound to the sha256 of the weights
it was measured on (engine/costs.py), which is what lets `auto` use P with those weights.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from engine.modelfolder import LoadedModel
    from train.corpus import Book


def bits_per_char(model_dir: Path, spec: str, device: str = "cpu") -> tuple[float, int, Book]:
    """(bits per character, characters scored, the book as read) of the model in `model_dir` on `spec`."""
    loaded, ids, book = read_for_scoring(model_dir, spec, device)
    return score_ids(loaded.model, ids), len(ids) - 1, book


def read_for_scoring(model_dir: Path, spec: str, device: str = "cpu") -> tuple[LoadedModel, np.ndarray, Book]:
    """The model in `model_dir`, the text `spec` as its token ids, and the book as read."""
    import numpy as np

    from engine.modelfolder import load_model_folder
    from train.corpus import read_book
    from train.data import encode_to_array

    loaded = load_model_folder(model_dir, device)
    _ = loaded.weights_sha256  # digested now, beside the weights just read: a cost recorded later names them
    book = read_book(spec, lowercase=loaded.vocab.lowercase, min_chars=2)
    return loaded, encode_to_array(book.text, loaded.vocab).astype(np.int64), book


# A precision's comparison with fp32 reads the text as many parallel rows, both precisions the same
# way, so each sequential step serves 64 rows (an LSTM's steps are sequential: rows are what a CPU
# can do side by side).
COMPARE_STREAMS = 64


def score_ids(model, ids, precision: str = "fp32", streams: int | None = None) -> float:
    """Bits per character of `model` on token ids, run by its step in `precision` (engine/steps/)."""
    import torch

    from engine.steps.build import build_step
    from train.scoring import evaluate

    device = model.head.weight.device
    forward = build_step(model, precision).forward
    streams = min(streams, max(1, (len(ids) - 1) // 256)) if streams else None  # rows of 256+ characters
    with torch.inference_mode():
        return evaluate(model, ids, device, amp=False, forward=forward, streams=streams) / math.log(2)


def record_score(model_dir: Path, book: Book, bpc: float, scored: int, argv: list[str]) -> None:
    """Add this score to config.json's metrics.eval, keyed by the book's name (its file name)."""
    import json

    from engine.modelfolder import write_atomic

    path = Path(model_dir) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    scores = config.setdefault("metrics", {}).setdefault("eval", {})
    scores[book.name] = {"bpc": round(bpc, 4), "chars": scored, "sha256": book.sha256,
                         "command": "python -m train.eval " + shlex.join(argv)}
    write_atomic(path, json.dumps(config, ensure_ascii=False, indent=2).encode())


HELD_OUT = "held-out tail"  # the text name a training run records its precision costs under
MEASURE_CHARS = 10_000  # held-out characters scored per precision at the end of training (seconds on a CPU)


def measure_precisions(model_dir: Path, ids, say) -> None:
    """After training: score the exported model's held-out tail in fp32 and in every reduced precision
    this machine runs, and record each cost (so `auto` may choose a precision within the bound)."""
    import numpy as np

    from engine.costs import MeasuredCost, record_cost
    from engine.modelfolder import load_model_folder
    from engine.precision import QUALITY_BOUND
    from engine.steps import PRECISIONS
    from engine.steps.build import unavailable

    loaded = load_model_folder(model_dir, "auto")
    weights_sha256 = loaded.weights_sha256  # the weights just read, whatever happens to the file meanwhile
    reduced = [p for p in PRECISIONS[1:] if unavailable(p, loaded.device) is None]
    ids = np.asarray(ids[-MEASURE_CHARS:], dtype=np.int64)
    if not reduced or len(ids) < 2:
        return
    fp32 = score_ids(loaded.model, ids, streams=COMPARE_STREAMS)
    for precision in reduced:
        bpc = score_ids(loaded.model, ids, precision, COMPARE_STREAMS)
        record_cost(model_dir, MeasuredCost(HELD_OUT, precision, bpc, fp32, len(ids) - 1,
                                            "python -m train (end of training)", weights_sha256))
        verdict = "auto may run it" if bpc - fp32 <= QUALITY_BOUND else f"over {QUALITY_BOUND}: auto will not run it"
        say(f"precision: {precision} costs {bpc - fp32:+.4f} bits/char on the held-out tail ({verdict})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.eval", description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="model folder (model.safetensors, vocab.json, config.json)")
    parser.add_argument("file", help="text file or gutenberg:N to score")
    parser.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda")
    from engine.steps import PRECISIONS

    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="also score the model in this generation precision and print its cost against fp32")
    parser.add_argument("--record", action="store_true",
                        help="also store the score in the model's config.json (metrics.eval; with "
                             "--precision, its cost in metrics.precision, which lets auto choose it)")
    args = parser.parse_args(argv)
    from engine.modelfolder import resolve_model_dir

    args.model_dir = resolve_model_dir(args.model_dir)  # a bundled model's name works too
    from engine.modelfolder import ModelFolderError
    from train.gutenberg import CorpusError

    words = argv if argv is not None else sys.argv[1:]
    try:
        loaded, ids, book = read_for_scoring(args.model_dir, args.file, args.device)
        bpc, scored = score_ids(loaded.model, ids), len(ids) - 1
        if args.precision != "fp32":  # side by side on the same rows (see COMPARE_STREAMS)
            fp32_rows = score_ids(loaded.model, ids, "fp32", COMPARE_STREAMS)
            reduced = score_ids(loaded.model, ids, args.precision, COMPARE_STREAMS)
    except (ModelFolderError, CorpusError, ValueError) as exc:  # PrecisionError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.record:
        record_score(args.model_dir, book, bpc, scored, words)
        if args.precision != "fp32":
            from engine.costs import MeasuredCost, record_cost

            record_cost(args.model_dir, MeasuredCost(book.name, args.precision, reduced, fp32_rows, scored,
                                                     "python -m train.eval " + shlex.join(words),
                                                     loaded.weights_sha256))
    from engine.modelfolder import read_model_info, recorded_base

    base = recorded_base(read_model_info(args.model_dir)[1])
    print(f"model: {args.model_dir}" + (f" (fine-tuned from {base})" if base else ""))
    print(f"text: {args.file} ({scored:,} characters scored)")
    print(f"bpc: {bpc:.4f}")
    if args.precision != "fp32":
        from engine.precision import QUALITY_BOUND

        cost = reduced - fp32_rows
        verdict = "within" if cost <= QUALITY_BOUND else "over"
        print(f"bpc in {args.precision}: {reduced:.4f} against fp32 {fp32_rows:.4f}, both read as "
              f"{COMPARE_STREAMS} parallel rows: {cost:+.4f} ({verdict} the {QUALITY_BOUND} bound)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
