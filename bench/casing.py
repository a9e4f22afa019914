"""How well printed case comes back (python bench/casing.py): text lowercased, re-cased as the streams do
(engine/casing.py), compared word by word with the printed text.

Two tables. Through the Looking-Glass (read by no model) re-cased by: sentence starts and "I" only;
each word's most frequent mid-sentence casing in Wonderland (a plain table); the bundled models'
casing.txt (alice: Wonderland over the library's 126 books; library: the 126 books); and, as a
ceiling for a plain table, the same table taken from Looking-Glass itself. Then books "fine-tuned in
the bench": a fine-tune's casing.txt is built from its books' printed text alone, never from the
weights, so the bench builds it the way `python -m train BOOK` does (train/casing.py: the book over
the library model's record) from the book's first 90% (the part training learns from) and re-cases
the held-out last 10% (the part training validates on; from its first paragraph's start, not from the
middle of the word the cut falls in); no model is trained.
Figures: words right; capitalised words restored; lowercase words given a capital (wrongly added).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from train_speed import cpu_name  # noqa: E402

from engine.casing import Casing, read_casing, recase  # noqa: E402
from engine.lexicon import WORD  # noqa: E402
from engine.modelfolder import BUNDLED_MODELS, read_model_info  # noqa: E402
from train.casing import CasingCounts  # noqa: E402
from train.corpus import read_book  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
VAL_FRAC = 0.1  # as training holds out (train/settings.py val_frac)


def score(printed: str, casing: Casing | None) -> tuple[float, float, float, int, int]:
    """(words right, capitals restored, lowercase words given a capital, words, capitalised words) of
    `printed` lowercased and re-cased by `casing`."""
    shown = recase(printed.lower(), casing)
    words = caps = right = restored = added = 0
    for match in WORD.finditer(printed):
        word, got = match.group(), shown[match.start():match.end()]
        words += 1
        right += got == word
        if word != word.lower():
            caps += 1
            restored += got == word
        else:
            added += got != word
    return right / words, restored / max(caps, 1), added / max(words - caps, 1), words, caps


def table_only(text: str) -> Casing:
    """A plain table: each word's most frequent mid-sentence casing in `text`, nothing by context."""
    return Casing(words=CasingCounts().read(text).record("").words)


def row(name: str, printed: str, casing: Casing | None) -> None:
    right, restored, added, words, caps = score(printed, casing)
    print(f"| {name} | {right:.1%} | {restored:.1%} | {added:.2%} | {words:,} | {caps:,} |")


def header(title: str) -> None:
    print(f"\n{title}\n")
    print("| re-casing | words right | capitals restored | capitals wrongly added | words | capitalised |")
    print("|---|---:|---:|---:|---:|---:|")


def bundled(name: str) -> Casing | None:
    folder = BUNDLED_MODELS / name
    vocab, _ = read_model_info(folder)
    record, note = read_casing(folder, vocab.chars)
    if note:
        print(f"({name}: {note})")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", nargs="+", default=["lookingglass.txt", "wonderland.txt"],
                        help="books (in ../shared/corpus or paths) to fine-tune in the bench")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is missing: the bench reads the books there")
    print(f"{cpu_name()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    glass = read_book(str(CORPUS / "lookingglass.txt"), lowercase=False).text
    wonderland = read_book(str(CORPUS / "wonderland.txt"), lowercase=False).text
    header("Through the Looking-Glass (never read by any model), lowercased and re-cased")
    row("sentence starts and I only", glass, None)
    row("+ each word's mid-sentence casing in Wonderland (a plain table)", glass, table_only(wonderland))
    row("bundled library (casing.txt of 126 books)", glass, bundled("library"))
    row("**bundled alice** (casing.txt: Wonderland over the library)", glass, bundled("alice"))
    row("a plain table from Looking-Glass itself (a ceiling for a table)", glass, table_only(glass))
    library = bundled("library")
    for book in args.books:
        path = CORPUS / book if (CORPUS / book).is_file() else Path(book)
        text = read_book(str(path), lowercase=False).text
        cut = len(text) - int(len(text) * VAL_FRAC)
        start = text.find("\n\n", cut) + 2 if "\n\n" in text[cut:] else cut  # judged from a paragraph's start
        head, tail = text[:cut], text[start:]
        header(f"{path.name} fine-tuned in the bench (casing.txt from its first 90%), its held-out last 10%")
        row("sentence starts and I only", tail, None)
        row("+ each word's mid-sentence casing in its first 90% (a plain table)", tail, table_only(head))
        row("bundled library", tail, library)
        record = CasingCounts().read(head).record("", library)
        print(f"(its casing.txt: {len(record.to_text().encode()):,} bytes)")
        row("**fine-tuned** (casing.txt: the book over the library, as `python -m train` builds it)", tail, record)


if __name__ == "__main__":
    main()
