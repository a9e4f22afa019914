"""Lexicons a model folder may hold that the guide must not choke on: one too big to compile (refused
before it is read, in one line, and the model writes freely), and text in scripts written without
spaces (Han, kana, Thai...), whose clauses are no words: those characters are written freely."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path

import torch

from bot.model_info import describe_lexicon
from engine import Generator
from engine.lexicon import GUIDE_MAX_BYTES, LEXICON, UNSPACED_CHAR, WORD, Lexicon
from engine.model import CharLSTM, ModelConfig
from engine.modelfolder import BUNDLED_MODELS, load_model_folder, save_model_folder
from engine.vocab import Vocab
from train.lexicon import text_lexicon

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


# -- scripts written without spaces ------------------------------------------------------------

CJK = ("爱丽丝开始觉得很累了，她和姐姐坐在河岸上，没有事情可做。她偷看了一两次姐姐正在读的书，"
       "但是书里既没有图画也没有对话。“一本书没有图画和对话有什么用呢？”爱丽丝想。"
       "ウサギが走ってきました。アリスはびっくりしました。ภาษาไทยเขียนติดกัน The White Rabbit said "
       "“oh dear” to Alice, and Alice said nothing.\n") * 6


def test_a_lexicon_of_a_cjk_text_holds_no_clauses():
    vocab = Vocab.build(CJK.lower())
    lexicon = text_lexicon([vocab.normalize(CJK)], vocab)
    assert not [w for w in lexicon.counts if UNSPACED_CHAR.search(w)], lexicon.counts
    assert {"the", "white", "rabbit", "alice", "oh", "dear"} <= set(lexicon.counts)


def test_guided_sampling_writes_cjk_freely_even_with_an_old_lexicon_of_clauses(tmp_path: Path):
    """A folder whose lexicon.txt an older training filled with clauses still loads; the clauses are
    left out, and guided rows write Han and kana in any order while English words stay guided."""
    torch.manual_seed(0)
    vocab = Vocab.build(CJK.lower())
    model = CharLSTM(ModelConfig(vocab_size=len(vocab), embed=16, hidden=32, layers=1, dropout=0, embed_dropout=0,
                                 weight_drop=0))  # untrained: every character about as likely
    clauses = [c for c in re.split(r"[，。？“”\s!-~]+", CJK) if len(c) > 1]
    lexicon = Lexicon({"the": 9, "white": 3, "rabbit": 3, "alice": 6, "said": 4})
    folder = save_model_folder(tmp_path / "zh", model.eval(), vocab, {"name": "zh"}, lexicon)
    with (folder / LEXICON).open("a", encoding="utf-8") as file:  # what the old training wrote
        file.write("".join(f"{clause} 6\n" for clause in dict.fromkeys(clauses)))
    loaded = load_model_folder(folder)
    assert loaded.lexicon == lexicon and loaded.guide is not None
    with Generator(loaded) as gen:
        text = gen.generate("爱丽丝", 3000, rng_seed=1, words="lexicon", temperature=1.0, top_p=1.0, exact=True,
                            case="lower")  # the words as the model writes them (the guide reads lowercase)
    han = [c for c in text if UNSPACED_CHAR.match(c)]
    assert len(han) > 1000  # the script is written...
    pairs = {a + b for a, b in zip(text, text[1:], strict=False) if UNSPACED_CHAR.match(a) and UNSPACED_CHAR.match(b)}
    seen = {c[i:i + 2] for c in clauses for i in range(len(c) - 1)}
    assert len(pairs - seen) > 200  # ...freely: pairs no clause holds
    words = [w for w in WORD.findall(text) if w.isascii()]
    known = set(lexicon.counts)
    assert words and all(w in known for w in words[:-1]), words  # the English words stay guided
