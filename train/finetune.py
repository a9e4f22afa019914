"""Fine-tuning: a run that starts from another model folder's weights, architecture and vocabulary.

The base keeps every character id it had; characters of the new books that it lacks, and that pass
the rare-character threshold, are appended as new rows of the embedding and of the output layer.
A new row reads like the base's look-alike of the character (é like e, else the unknown symbol) and
starts as rare as the unknown symbol; the base's own logits are unchanged at step 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.casing import Casing
from engine.lexicon import Lexicon
from engine.modelfolder import WEIGHTS, load_model_folder, read_lexicon
from engine.vocab import UNKNOWN_CHAR, Vocab
from train.settings import SCRATCH


@dataclass
class Base:
    """A model folder to fine-tune from, read once (CPU, fp32)."""

    path: Path
    vocab: Vocab
    config: dict
    weights: dict[str, torch.Tensor]
    weights_sha256: str
    lexicon: Lexicon | None = None  # the base's words: the fine-tuned model's lexicon adds the new books' to them
    casing: Casing | None = None  # the base's casing record: the fine-tuned model's is the new books' over it

    @property
    def architecture(self) -> dict:
        return dict(self.config["architecture"])

    def describe(self) -> dict:
        """What config.json records of the base (its lineage goes with it)."""
        corpus = self.config.get("corpus") or {}
        books = [b.get("name") for b in corpus.get("books", []) if isinstance(b, dict)]
        return {"name": self.config.get("name") or self.path.name, "path": str(self.path),
                "weights_sha256": self.weights_sha256, "corpus": corpus.get("name"), "books": books,
                "best_val_bpc": (self.config.get("metrics") or {}).get("best_val_bpc"),
                "base": self.config.get("base")}


def load_base(name: str) -> Base | None:
    """The base named by --from: a model folder path or a bundled model's name; None for 'none'.
    Loaded and checked by the engine's own loader (ModelFolderError names what is wrong)."""
    if name.strip().lower() == SCRATCH:
        return None
    loaded = load_model_folder(name)
    weights = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}
    digest = hashlib.sha256((loaded.path / WEIGHTS).read_bytes()).hexdigest()
    lexicon = loaded.lexicon if not loaded.lexicon_note else read_lexicon(loaded.path)  # too big to guide: kept
    return Base(loaded.path, loaded.vocab, loaded.config, weights, digest, lexicon, loaded.casing)


def extend_vocab(base: Vocab, counts: Mapping[str, int], min_count: int) -> tuple[Vocab, list[str]]:
    """The base's alphabet (same ids) plus the frequent characters it lacks, appended in order."""
    new = sorted(ch for ch, n in counts.items() if n >= min_count and ch != UNKNOWN_CHAR and ch not in base.chars)
    return Vocab([*base.chars, *new], lowercase=base.lowercase), new


def init_from_base(model: torch.nn.Module, base: Base, vocab: Vocab) -> None:
    """Copy the base's weights into `model` (same architecture, `vocab` extends the base's)."""
    old = len(base.vocab)
    if vocab.chars[:old] != base.vocab.chars:
        raise ValueError("the vocabulary does not extend the base's")
    state = model.state_dict()
    with torch.no_grad():
        for name, tensor in state.items():
            source = base.weights[name]
            if name in ("embed.weight", "head.weight", "head.bias"):
                tensor[:old].copy_(source)
            else:
                tensor.copy_(source)
        for i, ch in enumerate(vocab.chars[old:], start=old):
            like = base.vocab.char_id(ch)  # a look-alike (accents, quotes), else the unknown symbol
            state["embed.weight"][i] = base.weights["embed.weight"][like]
            state["head.weight"][i] = base.weights["head.weight"][like]
            state["head.bias"][i] = base.weights["head.bias"][base.vocab.unknown_id]
