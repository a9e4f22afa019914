"""Lexicons a model folder may hold that the guide must not choke on: one too big to compile (refused
before it is read, in one line, and the model writes freely)."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path

from bot.repl import describe_lexicon
from engine.lexicon import GUIDE_MAX_BYTES, LEXICON
from engine.modelfolder import BUNDLED_MODELS, load_model_folder

ROOT = Path(__file__).resolve().parents[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "DISCORD_"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def test_a_huge_lexicon_is_refused_in_one_line_before_it_is_read_and_words_are_free(tmp_path: Path):
    folder = tmp_path / "big"
    shutil.copytree(BUNDLED_MODELS / "alice", folder)
    words = ("".join(letters) for letters in itertools.product(string.ascii_lowercase, repeat=5))
    (folder / LEXICON).write_text("".join(f"{w} 1\n" for w in itertools.islice(words, 2_000_000)))
    assert (folder / LEXICON).stat().st_size > GUIDE_MAX_BYTES
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "bot", "--model", str(folder), "--seed", "alice was", "--len", "60",
                           "--rng-seed", "1", "--device", "cpu"], capture_output=True, text=True, cwd=tmp_path,
                          env=clean_env(), timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0 and len(proc.stdout.strip()) > 20
    assert proc.stderr == f"{folder / LEXICON}: 15.3 MB, over the 4 MB a word guide is built for; words are free\n"
    assert elapsed < 20, f"{elapsed:.1f} s"  # the guide over these words took minutes and gigabytes
    loaded = load_model_folder(folder)
    assert loaded.lexicon is None and loaded.guide is None
    assert describe_lexicon(loaded.lexicon, loaded.lexicon_note) == f"none ({proc.stderr.strip()})"


def test_the_bundled_lexicons_are_guided_as_before():
    """The bundled guides' tables, as digested before the size limit (and before scripts without spaces
    were left unguided): the same to the byte."""
    for name, words, states, digest in (("alice", 27347, 14658, "a2a9e7190ba9fa53"),
                                        ("library", 27244, 14604, "2a270e8086529a37")):
        loaded = load_model_folder(BUNDLED_MODELS / name)
        guide = loaded.guide
        assert loaded.lexicon_note == "" and (guide.words, guide.states) == (words, states)
        tables = guide.mask.tobytes() + guide.trans.tobytes() + guide.cls.tobytes()
        assert hashlib.sha256(tables).hexdigest()[:16] == digest
