"""Lexicon-guided sampling: the lexicon a training run writes (and a fine-tune's union), the
`python -m train.lexicon` tool, every word of a guided stream in the lexicon (on the bundled model
and on a barely trained one that would rather spell nonsense), guided and free rows in one batch,
the edges (unknown seed word, capitals, both apostrophes, digits and hyphens, dead ends, the unknown
symbol), old folders, and the setting in every front end."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import CORPUS, ROOT, TINY, needs_corpus, private_cache  # noqa: F401 (private_cache: the autouse fixture)

from engine import Generator, Sampling
from engine.lexicon import BETWEEN, CLOSED, FREE, LEXICON, WORD, Lexicon, WordGuide, fold
from engine.model import CharLSTM, ModelConfig
from engine.modelfolder import BUNDLED_MODEL, LoadedModel, ModelFolderError, load_model_folder
from engine.sampling import RowSettings, choose
from engine.vocab import UNKNOWN_CHAR, Vocab
from train.__main__ import main as train_main
from train.corpus import read_book
from train.lexicon import main as lexicon_main
from train.lexicon import text_lexicon

pytestmark = needs_corpus

def key(word: str) -> str:
    return "".join(fold(ch) for ch in word)


def known_parts(lexicon: Lexicon) -> set[str]:
    """The hyphen-free parts of the lexicon's words, as the guide reads them (case, apostrophes folded)."""
    return {key(part) for word in lexicon.counts for part in word.split("-")}


def unlisted(text: str, lexicon: Lexicon) -> list[str]:
    """Parts of the whole words in `text` (a word cut off by the end of the text is left out) that no
    lexicon word has."""
    known = known_parts(lexicon)
    words = [m.group() for m in WORD.finditer(text) if m.end() < len(text)]
    return [part for word in words for part in word.split("-") if key(part) not in known]


def read_together(generator: Generator, jobs: list[dict]) -> list[str]:
    """Start every stream in the same step (the worker waits for the lock), then read them at once."""
    streams = [generator.stream(**job) for job in jobs]
    with generator.together():
        for stream in streams:
            stream.begin()
    texts = [""] * len(streams)
    threads = [threading.Thread(target=lambda i=i: texts.__setitem__(i, "".join(streams[i])))
               for i in range(len(streams))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return texts


@pytest.fixture(scope="module")
def tiny(cased_tiny: Path) -> Path:
    """A barely trained model that keeps case, its own spelling mostly nonsense: trained once per
    session (tests/conftest.py), shared with tests/test_words_option.py."""
    return cased_tiny


@pytest.fixture(scope="module")
def tiny_gen(tiny):
    with Generator(tiny) as generator:
        yield generator


@pytest.fixture(scope="module")
def alice():
    with Generator(BUNDLED_MODEL) as generator:
        yield generator


# -- the lexicon file ---------------------------------------------------------------------------

def test_training_writes_the_books_words_counted_into_the_model_folder(tiny, cased_book):
    text = (tiny / LEXICON).read_text(encoding="utf-8")
    assert text.startswith("# ")
    loaded = load_model_folder(tiny)
    expected = text_lexicon([read_book(str(cased_book), lowercase=False).text], loaded.vocab)
    assert loaded.lexicon == expected == Lexicon.parse(text)
    counts = loaded.lexicon.counts
    assert counts["rabbit-hole"] >= 8 and counts["co-operate"] >= 8  # hyphenated words stay whole
    assert counts["don’t"] >= 8 and counts["Don't"] >= 8 and counts["wouldn't"] >= 8  # spelled as written
    assert counts["Alice"] > 8 and "1865" not in counts and "rd" in counts  # case kept; digits split words
    rows = [line.split() for line in text.splitlines() if not line.startswith("#")]
    assert [int(n) for _, n in rows] == sorted((int(n) for _, n in rows), reverse=True)  # most frequent first


def test_fine_tuning_carries_the_union_of_both_lexicons(tiny, tmp_path):
    glass = tmp_path / "glass.txt"
    glass.write_text((CORPUS / "lookingglass.txt").read_text(encoding="utf-8-sig")[:30_000], encoding="utf-8")
    out = tmp_path / "tuned"
    tune = [a for i, a in enumerate(TINY) if a not in ("--from", "--embed", "--hidden", "--layers")
            and TINY[i - 1] not in ("--from", "--embed", "--hidden", "--layers")]
    assert train_main([str(glass), "--out", str(out), "--from", str(tiny), "--epochs", "0.05", *tune]) == 0
    base, tuned = load_model_folder(tiny).lexicon, load_model_folder(out)
    new = text_lexicon([read_book(str(glass), lowercase=False).text], tuned.vocab)
    assert tuned.lexicon == base.union(new)
    assert tuned.lexicon.counts["Alice"] == base.counts["Alice"] + new.counts["Alice"]  # counts add up
    only_new = [w for w in new.counts if w not in base]
    assert "rabbit-hole" not in new and only_new and set(only_new) < set(tuned.lexicon.counts)
    assert "rabbit-hole" in tuned.lexicon  # the base's words stay


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train.lexicon", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_lexicon_tool_rebuilds_extends_filters_and_replaces(tiny, tmp_path, capsys):
    folder = tmp_path / "m"
    shutil.copytree(tiny, folder)
    original = Lexicon.read(folder / LEXICON)
    (folder / LEXICON).unlink()
    done = run_tool(str(folder))  # from the book config.json records
    assert done.returncode == 0, done.stderr
    assert Lexicon.read(folder / LEXICON) == original
    assert f"{len(original):,} words" in done.stdout
    words = tmp_path / "mine.txt"
    words.write_text("Snark\nBoojum\nBoojum\nAlice\n", encoding="utf-8")
    assert run_tool(str(folder), "--add", str(words)).returncode == 0
    extended = Lexicon.read(folder / LEXICON).counts
    assert extended["Snark"] == 1 and extended["Boojum"] == 2 and extended["Alice"] == original.counts["Alice"] + 1
    assert lexicon_main([str(folder), "--add", str(words), "--min-count", "2", "--replace"]) == 0
    assert Lexicon.read(folder / LEXICON).counts == {"Boojum": 2}
    (folder / LEXICON).write_text("# fine\nSnark 1\nthis line is wrong\n", encoding="utf-8")
    capsys.readouterr()
    assert lexicon_main([str(folder), "--add", str(words)]) == 2
    assert capsys.readouterr().err == f"error: {folder / LEXICON}: line 3 is not `word count` ('this line is wrong')\n"


def test_a_corrupt_lexicon_is_one_clear_error_naming_the_file(tiny, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(tiny, folder)
    (folder / LEXICON).write_bytes(b"alice 3\n\xff\xfe\n")
    with pytest.raises(ModelFolderError, match=re.escape(f"{folder / LEXICON}: not UTF-8 text")):
        load_model_folder(folder)
    (folder / LEXICON).write_text("alice three\n", encoding="utf-8")
    with pytest.raises(ModelFolderError, match=re.escape(f"{folder / LEXICON}: line 1 is not `word count`")):
        load_model_folder(folder)


def test_a_folder_without_a_lexicon_loads_and_lexicon_mode_then_writes_freely(tiny, tiny_gen, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(tiny, folder)
    (folder / LEXICON).unlink()
    assert load_model_folder(folder).lexicon is None
    with Generator(folder) as old:
        assert old.generate("The ", 300, rng_seed=3, words="lexicon") == old.generate("The ", 300, rng_seed=3,
                                                                                        words="free")
    assert tiny_gen.generate("The ", 300, rng_seed=3, words="lexicon") != tiny_gen.generate("The ", 300, rng_seed=3,
                                                                                            words="free")


# -- guided sampling ----------------------------------------------------------------------------

SEEDS = ["The ", "alice was beginning to get very tired of ", "“Who are you?” said the ", "\n\n", "she said, "]


@pytest.mark.parametrize("options", [{"temperature": 0}, {}, {"temperature": 1.5, "top_p": 1.0},
                                     {"temperature": 1.0, "top_k": 3}])
def test_every_word_a_barely_trained_model_writes_in_lexicon_mode_is_a_lexicon_word(tiny_gen, options):
    lexicon = tiny_gen.loaded.lexicon
    jobs = [{"seed": seed, "length": 400, "rng_seed": i, "words": "lexicon", **options} for i, seed in enumerate(SEEDS)]
    for text in read_together(tiny_gen, jobs):
        assert len(text) == 400 and UNKNOWN_CHAR not in text
        assert unlisted(text, lexicon) == [], text
    if options.get("temperature") == 1.5:  # the check has teeth: left free, this model spells nonsense
        free = tiny_gen.generate(SEEDS[0], 400, rng_seed=0, words="free", **options)
        assert len(unlisted(free, lexicon)) > 5


@pytest.mark.parametrize("options", [{"temperature": 0}, {}, {"temperature": 1.4, "top_p": 1.0}])
def test_every_word_the_bundled_model_writes_in_lexicon_mode_is_a_lexicon_word(alice, options):
    jobs = [{"seed": seed, "length": 300, "rng_seed": i, "words": "lexicon", **options} for i, seed in enumerate(SEEDS)]
    for text in read_together(alice, jobs):
        assert unlisted(text, alice.loaded.lexicon) == [], text


def test_guided_and_free_rows_share_a_batch_and_each_writes_what_it_writes_alone(tiny_gen):
    settings = [Sampling(words="lexicon"), Sampling(words="free"), Sampling(0, words="lexicon"),
                Sampling(1.2, 5, 1.0, "free"), Sampling(1.2, 5, 1.0, "lexicon"), Sampling(0.9, 0, 0.9, "lexicon")]
    jobs = [{"seed": SEEDS[i % len(SEEDS)], "length": 300, "rng_seed": i, "sampling": s}
            for i, s in enumerate(settings)]
    alone = [tiny_gen.generate(**job) for job in jobs]
    assert read_together(tiny_gen, jobs) == alone
    assert alone[3] != tiny_gen.generate(**{**jobs[3], "sampling": settings[4]})  # the setting does change the text


# -- edges ----------------------------------------------------------------------------------------

def test_a_seed_ending_inside_an_unknown_word_writes_freely_until_that_word_ends(alice):
    seed = "the queen said to the xqzv"
    free = alice.generate(seed, 300, rng_seed=5, words="free")
    guided = alice.generate(seed, 300, rng_seed=5, words="lexicon")
    end = re.search(r"[^\w'’]", free).start()  # the unknown word's end: up to there both are the same
    assert guided[:end + 1] == free[:end + 1]
    assert unlisted(guided[end:], alice.loaded.lexicon) == []


def test_a_seed_ending_inside_a_known_word_finishes_a_lexicon_word(alice):
    for i in range(4):
        text = "down the rabb" + alice.generate("down the rabb", 60, rng_seed=i, temperature=1.5, top_p=1.0)
        first = WORD.findall(text)[2]
        assert first.startswith("rabb") and unlisted(first + " ", alice.loaded.lexicon) == [], text


def test_capitalised_words_match_the_lexicon_whatever_their_case(tiny_gen):
    assert not tiny_gen.loaded.vocab.lowercase
    texts = read_together(tiny_gen, [{"seed": "The ", "length": 600, "rng_seed": i, "words": "lexicon",
                                      "temperature": 1.2} for i in range(4)])
    assert [w for text in texts for w in WORD.findall(text) if w[0].isupper()]  # this model writes capitals...
    assert all(unlisted(text, tiny_gen.loaded.lexicon) == [] for text in texts)  # ...in lexicon words only
    guide = WordGuide.build(Lexicon({"alice": 1}), tiny_gen.loaded.vocab)
    assert guide.start(tiny_gen.loaded.vocab.encode("ALICE")) == guide.start(tiny_gen.loaded.vocab.encode("alice"))


def walk(guide: WordGuide, vocab: Vocab, text: str, state: int = BETWEEN) -> tuple[int, bool]:
    """The state after `text` and whether every character of it was allowed on the way."""
    ok = True
    for i in vocab.encode(text):
        ok &= bool(guide.mask[state, i])
        state = int(guide.advance(np.array([state]), np.array([i]))[0])
    return state, ok


def test_curly_and_straight_apostrophes_digits_and_hyphens(alice):
    vocab = alice.loaded.vocab
    lexicon = Lexicon({"don’t": 1, "alice": 1, "rabbit-hole": 1, "co-operate": 1, "i": 1, "in": 1})
    guide = WordGuide.build(lexicon, vocab)
    for text in ["don't ", "don’t ", "alice’, ", "alice' ", "‘alice’ ", "rabbit-hole ", "co-operate ", "hole-alice ",
                 "in 1865 alice ", "alice2 ", "alice--i ", "alice-"]:
        assert walk(guide, vocab, text)[1], text
    for text in ["don ", "alice’s", "co ", "do1", "rabbit-holes", "x"]:
        assert not walk(guide, vocab, text)[1], text
    assert walk(guide, vocab, "alice’")[0] == CLOSED and walk(guide, vocab, "alicx")[0] == FREE
    text = alice.generate("in 1865 the rabbit-", 300, rng_seed=1, words="lexicon")
    assert unlisted("rabbit-" + text, alice.loaded.lexicon) == []


def test_a_dead_end_falls_back_to_free_and_never_yields_nan_or_an_empty_row():
    vocab = Vocab([UNKNOWN_CHAR, "a", "b"])  # no space, no mark: after "ab" no character ends the word
    guide = WordGuide.build(Lexicon({"ab": 5}), vocab)
    assert guide.mask.any(axis=1).all() and not guide.mask[:, vocab.unknown_id].any()
    # between words only "a" may come: the first row's model rules it out (that step goes unguided), the
    # second's finds it unlikely (still "a")
    logits = np.array([[9.0, -np.inf, 1.0], [50.0, 1.0, 3.0]])
    allowed = guide.allowed(np.array([BETWEEN, BETWEEN]))
    assert allowed[:, 1:].tolist() == [[True, False], [True, False]]
    for settings in (Sampling(), Sampling(0)):
        ids = choose(logits, RowSettings([settings] * 2), np.array([0.5, 0.5]), vocab.unknown_id, allowed)
        assert ids.tolist() == [2, 1]
    torch.manual_seed(0)
    model = CharLSTM(ModelConfig(vocab_size=3, embed=4, hidden=8, layers=1)).eval()
    loaded = LoadedModel(model, vocab, {}, Path("dead-end"), torch.device("cpu"), Lexicon({"ab": 5}))
    with Generator(loaded) as generator:
        text = generator.generate("ab", 200, rng_seed=1, words="lexicon", temperature=2.0)
    assert len(text) == 200 and set(text) <= {"a", "b"}


def test_the_unknown_symbol_is_never_written_in_lexicon_mode(alice):
    text = alice.generate("😀😀😀 ☃☃☃", 600, temperature=3.0, top_p=1.0, rng_seed=5, words="lexicon")
    assert len(text) == 600 and UNKNOWN_CHAR not in text


# -- front ends ---------------------------------------------------------------------------------
