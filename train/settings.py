"""Every knob of `python -m train`, with its default and meaning; `--help` is generated from here."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, field, fields
from typing import Any


def _opt(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainSettings:
    """Training run settings. Defaults were measured on Alice, 2 CPU cores, 10 minutes."""

    books: list[str] = field(default_factory=list, metadata={"help": "book files or gutenberg:N", "positional": True})
    out: str = _opt("models/model", "model folder to write (weights, vocab, config, checkpoint, history)")
    resume: bool = _opt(False, "continue the run saved in --out exactly where it stopped")
    from_model: str = _opt("library", "model folder (or bundled model's name) to fine-tune from; 'none' trains "
                           "from scratch", flag="--from")
    # data
    keep_case: bool = _opt(False, "keep upper case (default: lowercase everything, as the tutorial does)")
    min_char_count: int = _opt(3, "characters seen fewer times fold into the unknown symbol")
    lexicon_min_count: int = _opt(1, "words seen fewer times are left out of the model's lexicon.txt (the words "
                                  "lexicon-guided sampling may write); many books: try 10")
    val_frac: float = _opt(0.1, "fraction held out for validation: the tail of each book")
    # model
    embed: int = _opt(64, "character embedding size")
    hidden: int = _opt(384, "LSTM units per layer")
    layers: int = _opt(2, "stacked LSTM layers")
    dropout: float = _opt(0.4, "dropout between layers and before the output layer")
    embed_dropout: float = _opt(0.15, "dropout on the input embeddings")
    weight_drop: float = _opt(0.4, "DropConnect on the recurrent weights")
    # optimisation
    batch: int = _opt(16, "parallel streams per step")
    seq_len: int = _opt(150, "characters per stream per step (truncated back-propagation through time)")
    lr: float = _opt(3e-3, "peak learning rate (AdamW)")
    weight_decay: float = _opt(0.1, "AdamW weight decay")
    warmup_steps: int = _opt(100, "linear learning-rate warm-up")
    min_lr_frac: float = _opt(0.05, "cosine schedule ends at this fraction of --lr")
    clip: float = _opt(1.0, "gradient norm clipping")
    # stopping
    epochs: float = _opt(0.0, "stop after this many passes over the training text (0 = no limit)")
    minutes: float = _opt(10.0, "wall-clock budget in minutes (0 = no limit); the LR schedule spans it")
    patience: int = _opt(6, "stop after this many evaluations without improvement (0 = never)")
    eval_every: int = _opt(150, "steps between evaluations on the held-out text")
    eval_chars: int = _opt(300_000, "held-out characters scored at each evaluation (0 = all)")
    checkpoint_minutes: float = _opt(5.0, "minutes between checkpoints (also written on Ctrl-C)")
    # machine
    device: str = _opt("auto", "auto (cuda if present), cpu, cuda or cuda:N")
    threads: int = _opt(0, "CPU threads (0 = every core)")
    seed: int = _opt(1337, "random seed (weights, dropout, data order)")
    sample_chars: int = _opt(200, "length of the sample printed at each evaluation")
    progress: bool = _opt(True, "show a progress bar (--no-progress for logs)")
    check: bool = _opt(False, "only read the books as training would (download, decode, clean, length), say "
                       "what it would keep, and stop: nothing written, no torch (bot/learn/ asks this first)")
    progress_json: bool = _opt(False, "also print progress as JSON lines on stdout, for a program watching the "
                               "run (train/watch.py)")

    @property
    def min_book_chars(self) -> int:
        """The shortest text, once cleaned, that a run can learn from: two batches of windows."""
        return max(1000, 2 * self.batch * self.seq_len)

    def validate(self) -> None:
        checks = [
            (bool(self.books) or self.resume, "give at least one BOOK (a file or gutenberg:N)"),
            (0 < self.val_frac < 0.5, "--val-frac must be between 0 and 0.5"),
            (self.embed > 0 and self.hidden > 0 and self.layers > 0, "--embed, --hidden, --layers must be positive"),
            (all(0 <= p < 1 for p in (self.dropout, self.embed_dropout, self.weight_drop)),
             "dropout rates must be in [0, 1)"),
            (self.batch > 0 and self.seq_len > 1, "--batch must be positive and --seq-len at least 2"),
            (self.lr > 0 and self.clip > 0, "--lr and --clip must be positive"),
            (self.epochs >= 0 and self.minutes >= 0, "--epochs and --minutes must not be negative"),
            (self.eval_every > 0, "--eval-every must be positive"),
            (self.min_char_count >= 1, "--min-char-count must be at least 1"),
            (self.lexicon_min_count >= 1, "--lexicon-min-count must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


# Defaults that differ when a run starts from a base model (--from), measured on Alice and Through
# the Looking-Glass fine-tuned from the bundled library model (docs/measurements.md, the fine-tuning sweep).
FINETUNE_DEFAULTS: dict[str, Any] = {
    "lr": 1e-3, "dropout": 0.15, "embed_dropout": 0.05, "weight_drop": 0.15, "warmup_steps": 50,
    "epochs": 4.0, "minutes": 0.0, "eval_every": 25,  # four passes over the book, however long they take
}
ARCHITECTURE = ("embed", "hidden", "layers")  # fixed by the base when fine-tuning
SCRATCH = "none"  # --from none: train from random weights


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Fit a character-level LSTM on one or more books and export a model folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in fields(TrainSettings):
        help_text = f.metadata["help"]
        if f.metadata.get("positional"):
            parser.add_argument(f.name, nargs="*", metavar="BOOK", help=help_text)
            continue
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default,
                                help=help_text)
        else:
            kind = {"int": int, "float": float, "str": str}[str(f.type)]
            if f.name in FINETUNE_DEFAULTS:
                help_text += f" (fine-tuning: {FINETUNE_DEFAULTS[f.name]})"
            parser.add_argument(flag, dest=f.name, type=kind, default=f.default if f.default is not MISSING else None,
                                help=help_text)
    return parser


def parse_settings(argv: list[str] | None = None) -> TrainSettings:
    """Command line -> validated settings; bad values exit 2 with argparse's one-line error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = TrainSettings(**vars(args))
    try:
        settings.validate()
    except ValueError as exc:
        parser.error(str(exc))
    return settings
