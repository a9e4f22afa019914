"""`python -m train BOOK [BOOK ...] --out DIR`: fit a char-LSTM and export a model folder."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from train.settings import ARCHITECTURE, FINETUNE_DEFAULTS, SCRATCH, TrainSettings, build_parser, parse_settings

if TYPE_CHECKING:
    from train.finetune import Base
    from train.loop import Trainer

RESUME_KEEPS = {"books", "keep_case", "min_char_count", "val_frac", "embed", "hidden", "layers", "batch", "seq_len",
                "from_model"}


def given_options(argv: list[str]) -> set[str]:
    """Names of the options actually typed on the command line (not defaults)."""
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def resolve_resume(settings: TrainSettings, argv: list[str]) -> TrainSettings:
    """On --resume the saved run's settings stand, except options typed now (stopping, device...)."""
    from train.checkpoint import CHECKPOINT, read_checkpoint_settings

    saved = read_checkpoint_settings(Path(settings.out) / CHECKPOINT)
    saved.setdefault("from_model", SCRATCH)  # checkpoints written before fine-tuning existed
    typed = given_options(argv) - {"resume", "out"}
    clash = sorted(name for name in typed & RESUME_KEEPS if getattr(settings, name) != saved.get(name))
    if clash:
        raise ValueError(f"--resume cannot change {', '.join(clash)} (they shape the model or its data)")
    known = {f.name for f in fields(TrainSettings)}
    merged = {**{k: v for k, v in saved.items() if k in known}, **{k: getattr(settings, k) for k in typed}}
    merged.update(resume=True, out=settings.out)
    return TrainSettings(**merged)


def choose_base(settings: TrainSettings, typed: set[str], say) -> tuple[TrainSettings, Base | None]:
    """The model to fine-tune from (None: from scratch) and the settings that go with it: the base's
    architecture, and the fine-tuning defaults for every option not typed (a fresh run only)."""
    from train.finetune import load_base

    base = load_base(settings.from_model)
    if base is None:
        return settings, None
    if settings.keep_case and base.vocab.lowercase:
        say(f"--keep-case: the base model {base.path} is lowercase, so this run trains from scratch (--from none)")
        return replace(settings, from_model=SCRATCH), None
    arch = base.architecture
    clash = [f"--{name} {getattr(settings, name)}" for name in ARCHITECTURE
             if name in typed and getattr(settings, name) != arch[name]]
    if clash:
        shape = ", ".join(f"--{name} {arch[name]}" for name in ARCHITECTURE)
        raise ValueError(f"{', '.join(clash)}: fine-tuning keeps the base model's architecture ({shape}); "
                         f"add --from none to train a new one")
    changes = {name: arch[name] for name in ARCHITECTURE}
    if not settings.resume:
        changes.update({name: value for name, value in FINETUNE_DEFAULTS.items() if name not in typed})
    return replace(settings, **changes), base


def prepare_once(settings: TrainSettings, dist, base: Base | None):
    """The main process tokenises (and fills the cache) while the others wait, then read it."""
    from train.loop import prepare

    if not dist.enabled:
        return prepare(settings, base)
    import torch.distributed

    if dist.is_main:
        try:
            return prepare(settings, base)
        finally:
            torch.distributed.barrier()  # released even on a bad book: the others then hit the same error
    torch.distributed.barrier()
    return prepare(settings, base)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = parse_settings(argv)
    if settings.check:
        return check_books(settings)
    from engine.modelfolder import ModelFolderError
    from train.checkpoint import CheckpointError
    from train.distributed import init_distributed, shutdown
    from train.gutenberg import CorpusError
    from train.loop import LN2, Trainer, TrainingError

    dist = init_distributed(settings.device)
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if dist.is_main else (lambda line: None)
    try:
        if settings.resume:
            settings = resolve_resume(settings, argv)
        settings, base = choose_base(settings, given_options(argv), say)
        corpus = prepare_once(settings, dist, base)
        for note in corpus.notes:
            say(f"corpus: {note}")
        trainer = Trainer(settings, corpus, dist, base=base)
        if dist.is_main:
            record_speakers(settings, say)
        if settings.resume:
            trainer.resume()
        start = f"fine-tuning {base.path.name} ({base.path})" if base is not None else "training"
        say(f"{start}: {trainer.model.num_parameters():,} parameters on {trainer.device}"
            f"{f' x {dist.world} processes' if dist.enabled else ''} ({len(corpus.train_ids):,} training / "
            f"{len(corpus.val_ids):,} held-out characters) -> {settings.out}")
        finished = trainer.run()
    except (CorpusError, TrainingError, CheckpointError, ModelFolderError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {settings.out} keeps whatever was already saved there", file=sys.stderr)
        return 130
    finally:
        shutdown(dist)
    if not dist.is_main:
        return 0 if finished else 130
    if not finished:
        print(f"\n{stopped_message(trainer)}", file=sys.stderr)
        return 130
    if trainer.has_model():
        from train.eval import measure_precisions

        measure_precisions(settings.out, corpus.val_ids, say)
    best = f"best held-out {trainer.state.best_val_loss / LN2:.4f} bits/char" if trainer.has_model() else "no model"
    print(f"done: {trainer.state.step} steps, {trainer.state.seconds:.0f} s, {best} -> {settings.out}", file=sys.stderr)
    return 0


def check_books(settings: TrainSettings) -> int:
    """`--check`: read every book as a run would and say what it keeps; 2 with `error: ...` when one
    cannot be learnt from. Torch is never imported, so this answers in a fraction of a second."""
    from train.corpus import CorpusError, read_books

    try:
        books = read_books(settings.books, lowercase=not settings.keep_case, min_chars=settings.min_book_chars)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for book in books:
        print(f"ok: {book.name}: {len(book.text):,} characters to learn from", file=sys.stderr)
    return 0


def record_speakers(settings: TrainSettings, say) -> None:
    """speakers.json in the model folder: who speaks in the books, read from their printed text."""
    from train.speakers import books_speakers, write_cast

    record = write_cast(Path(settings.out), books_speakers(settings.books), list(settings.books))
    say(f"speakers: {len(record['speakers'])} ({', '.join(name for name, _ in record['speakers'][:5]) or 'none'})")


def stopped_message(trainer: Trainer) -> str:
    """The last line after Ctrl-C: names the model only when one was exported."""
    from train.loop import LN2

    state, out = trainer.state, trainer.settings.out
    if trainer.has_model():
        saved = f"best model ({state.best_val_loss / LN2:.4f} bits/char) is in {out}"
    else:
        saved = f"no model was exported, only the checkpoint is in {out}"
    return f"stopped at step {state.step}: {saved}; continue with: python -m train --resume --out {out}"


if __name__ == "__main__":
    sys.exit(main())
