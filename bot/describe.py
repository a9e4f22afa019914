"""How both front ends describe a model to its users: the terminal's /info table and Discord's
`!models` line, read from the model's config.json (every field beyond the architecture may be
missing: a placeholder model, a folder made before the field existed).

Free of discord and torch: `engine`'s names load on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import engine


def corpus_name(config: dict) -> str:
    """The book a model learnt, from its config.json (keys may be missing)."""
    return engine.recorded_corpus(config) or "an unnamed book"


def model_line(config: dict, escape: Callable[[str], str] = str) -> str:
    """'wonderland.txt, 1.920 bits/char' (or 'not measured' for a placeholder model), as `!models`
    lists it; `escape` keeps the names read from config.json as plain text where they are shown."""
    bpc = engine.recorded_bpc(config)
    quality = "bits/char not measured" if bpc is None else f"{bpc:.3f} bits/char"
    base = engine.recorded_base(config)
    lineage = f", fine-tuned from {escape(base)}" if base else ""
    return f"{escape(corpus_name(config))}, {quality}{lineage}"


def describe_model(loaded: Any) -> str:
    """The terminal's /info table of a loaded model (engine.LoadedModel)."""
    config = loaded.config if isinstance(loaded.config, dict) else {}
    bpc = engine.recorded_bpc(config)
    params = sum(p.numel() for p in loaded.model.parameters())
    name = loaded.name + (" (placeholder)" if config.get("placeholder") else "")
    rows = [
        ("model", name),
        ("folder", str(loaded.path)),
        ("corpus", engine.recorded_corpus(config) or "unknown"),
        ("fine-tuned from", engine.recorded_base(config) or "nothing (trained from scratch)"),
        ("vocabulary", f"{len(loaded.vocab)} characters"),
        ("lexicon", describe_lexicon(getattr(loaded, "lexicon", None), getattr(loaded, "lexicon_note", ""))),
        ("casing", describe_casing(getattr(loaded, "casing", None), getattr(loaded, "casing_note", ""))),
        ("val bits/char", "not measured" if bpc is None else f"{bpc:.3f}"),
        ("parameters", f"{params:,}"),
        ("device", str(loaded.device)),
    ]
    return "\n".join(f"  {key.ljust(16)}{value}" for key, value in rows)


def describe_precision(generator: Any) -> str:
    """/info's precision line: the weights generation runs in, and why (chosen by auto, or asked for)."""
    choice = getattr(generator, "precision", None)
    return f"\n  {'precision'.ljust(16)}{choice.precision} ({choice.reason})" if choice is not None else ""


def describe_lexicon(lexicon: Any, note: str = "") -> str:
    """/info's lexicon line: how many words `/words lexicon` keeps to, or that there are none and why."""
    if lexicon is None:
        return f"none ({note or 'lexicon.txt is missing: words are free'})"
    return f"{len(lexicon):,} words (/words lexicon keeps to them)"


def describe_casing(casing: Any, note: str = "") -> str:
    """/info's casing line: how the book's case is shown (casing.txt), or why only sentence starts and I are."""
    if casing is None:
        return note or "none: the model writes case itself"
    return f"{len(casing.words):,} words, {len(casing.pairs):,} pairs as the book prints them (casing.txt)"
