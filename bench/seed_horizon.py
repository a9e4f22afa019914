"""How much of a long seed does a model remember? (python bench/seed_horizon.py [--model M] [TEXT])

An LSTM's state forgets: what it read long ago no longer changes what it predicts. This reads 200
places of a book the model never trained on (Through the Looking-Glass by default) after contexts
of N characters and compares the next 50 characters' predictions with those after 2,000
characters: bits per character, and the KL divergence (bits) of the first and of all 50 predicted
distributions. Where both stop changing, reading more of a seed costs time and buys nothing: that
is the basis of ALICE_MAX_SEED_CHARS's default.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.modelfolder import load_model_folder, resolve_model_dir  # noqa: E402
from train.corpus import read_book  # noqa: E402

LONGEST = 2000
SCORED = 50
PLACES = 200


def predictions(model, ids: torch.Tensor, starts: torch.Tensor, context: int) -> torch.Tensor:
    """Log-probabilities [places, SCORED, vocab] of the SCORED characters after each start, having
    read `context` characters before it."""
    before = torch.stack([ids[s - context:s] for s in starts])
    after = torch.stack([ids[s:s + SCORED] for s in starts])
    _, state = model.read(before[:, :-1])
    logits, _ = model(torch.cat([before[:, -1:], after[:, :-1]], 1), state)
    return torch.log_softmax(logits.float(), -1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="?", default=str(ROOT.parent / "shared" / "corpus" / "lookingglass.txt"))
    parser.add_argument("--model", default="alice", help="model folder or bundled model's name")
    args = parser.parse_args()
    loaded = load_model_folder(resolve_model_dir(args.model))
    book = read_book(args.text, lowercase=loaded.vocab.lowercase, min_chars=LONGEST + 1000)
    ids = torch.tensor(loaded.vocab.encode(book.text))
    starts = torch.linspace(LONGEST, len(ids) - SCORED - 1, PLACES).long()
    with torch.inference_mode():
        reference = predictions(loaded.model, ids, starts, LONGEST)
        truth = torch.stack([ids[s:s + SCORED] for s in starts])
        print(f"model {loaded.name}, text {book.name}: {PLACES} places x {SCORED} characters")
        print(f"{'context':>8} {'bits/char':>10} {'KL 1st char':>12} {'KL mean':>10} {'KL max':>8}")
        for context in (50, 100, 200, 300, 400, 600, 1000, LONGEST):
            logp = predictions(loaded.model, ids, starts, context)
            kl = (reference.exp() * (reference - logp)).sum(-1) / math.log(2)
            bpc = -logp.gather(-1, truth[..., None]).mean() / math.log(2)
            print(f"{context:>8} {bpc:>10.4f} {kl[:, 0].mean():>12.5f} {kl.mean():>10.5f} {kl.max():>8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
