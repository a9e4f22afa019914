"""`python -m train BOOK [BOOK ...] --out DIR`: fit a char-LSTM and export a model folder."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from train.settings import TrainSettings, build_parser, parse_settings

RESUME_KEEPS = {"books", "keep_case", "min_char_count", "val_frac", "embed", "hidden", "layers", "batch", "seq_len"}


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
    typed = given_options(argv) - {"resume", "out"}
    clash = sorted(name for name in typed & RESUME_KEEPS if getattr(settings, name) != saved.get(name))
    if clash:
        raise ValueError(f"--resume cannot change {', '.join(clash)} (they shape the model or its data)")
    known = {f.name for f in fields(TrainSettings)}
    merged = {**{k: v for k, v in saved.items() if k in known}, **{k: getattr(settings, k) for k in typed}}
    merged.update(resume=True, out=settings.out)
    return TrainSettings(**merged)


def prepare_once(settings: TrainSettings, dist):
    """The main process tokenises (and fills the cache) while the others wait, then read it."""
    from train.loop import prepare

    if not dist.enabled:
        return prepare(settings)
    import torch.distributed

    if dist.is_main:
        try:
            return prepare(settings)
        finally:
            torch.distributed.barrier()  # released even on a bad book: the others then hit the same error
    torch.distributed.barrier()
    return prepare(settings)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = parse_settings(argv)
    from train.checkpoint import CheckpointError
    from train.distributed import init_distributed, shutdown
    from train.gutenberg import CorpusError
    from train.loop import LN2, Trainer, TrainingError

    dist = init_distributed(settings.device)
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if dist.is_main else (lambda line: None)
    try:
        if settings.resume:
            settings = resolve_resume(settings, argv)
        corpus = prepare_once(settings, dist)
        for note in corpus.notes:
            say(f"corpus: {note}")
        trainer = Trainer(settings, corpus, dist)
        if settings.resume:
            trainer.resume()
        say(f"training {trainer.model.num_parameters():,} parameters on {trainer.device}"
            f"{f' x {dist.world} processes' if dist.enabled else ''} ({len(corpus.train_ids):,} training / "
            f"{len(corpus.val_ids):,} held-out characters) -> {settings.out}")
        finished = trainer.run()
    except (CorpusError, TrainingError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: whatever was already saved in {settings.out} (checkpoint, best model) is kept",
              file=sys.stderr)
        return 130
    finally:
        shutdown(dist)
    if not dist.is_main:
        return 0 if finished else 130
    best = trainer.state.best_val_loss / LN2
    if not finished:
        print(f"\nstopped at step {trainer.state.step}: best model ({best:.4f} bits/char) is in {settings.out}; "
              f"continue with: python -m train --resume --out {settings.out}", file=sys.stderr)
        return 130
    print(f"done: {trainer.state.step} steps, {trainer.state.seconds:.0f} s, best held-out {best:.4f} bits/char "
          f"-> {settings.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
