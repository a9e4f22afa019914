"""Fine-tuning (--from): the base's ids, shapes and weights carry over, new characters get rows of
their own, the bundled library model is the default start, and --from none is training from scratch."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_train import (  # noqa: F401 (private_cache: the autouse fixture)
    CORPUS,
    TINY,
    needs_corpus,
    private_cache,
    train_here,
    train_straight_and_interrupted,
)

from engine.generator import Generator
from engine.modelfolder import BUNDLED_MODELS, load_model_folder
from engine.vocab import Vocab
from train.__main__ import main as train_main
from train.eval import main as eval_main
from train.finetune import extend_vocab, init_from_base, load_base

# TINY without --from none and the architecture (the base fixes those)
TUNE = [a for i, a in enumerate(TINY) if a not in ("--from", "--embed", "--hidden", "--layers")
        and TINY[i - 1] not in ("--from", "--embed", "--hidden", "--layers")]
FRENCH = ("\n\n« L'été, à Noël, ça et là, la mère de François rêvait d'une île où l'œil voit loin. » "
          "Déjà l'élève répétait : « Où êtes-vous ? » ") * 4


@pytest.fixture(scope="module")
def base(tiny_base: Path) -> Path:
    """A small real base model: a few hundred steps on Alice, from scratch (trained once per session,
    tests/conftest.py; read here, never changed)."""
    return tiny_base


@pytest.fixture
def french_book(tmp_path) -> Path:
    """Through the Looking-Glass with French passages: characters the base never saw, often enough."""
    text = (CORPUS / "lookingglass.txt").read_text(encoding="utf-8-sig")[:60_000]
    book = tmp_path / "glass-fr.txt"
    book.write_text(text + FRENCH, encoding="utf-8")
    return book


def test_extend_vocab_keeps_ids_and_appends_frequent_new_characters():
    base = Vocab.from_counts({"a": 5, "b": 5, "e": 5})
    vocab, new = extend_vocab(base, {"a": 9, "é": 3, "ç": 2, "z": 7}, min_count=3)
    assert vocab.chars[:len(base)] == base.chars
    assert new == ["z", "é"] and vocab.chars[len(base):] == new
    assert vocab.char_id("ç") == vocab.char_id("c") == 0  # too rare: folded (c is not in the alphabet either)


@needs_corpus
def test_new_rows_leave_the_bases_logits_unchanged_at_step_zero(base):
    loaded = load_model_folder(base)
    tuned_base = load_base(str(base))
    vocab, new = extend_vocab(tuned_base.vocab, {"é": 10, "œ": 10}, 3)
    from engine.model import CharLSTM, ModelConfig

    model = CharLSTM(ModelConfig(**{**tuned_base.architecture, "vocab_size": len(vocab)})).eval()
    init_from_base(model, tuned_base, vocab)
    ids = torch.tensor([loaded.vocab.encode("the queen said to alice")])
    old = len(tuned_base.vocab)
    assert torch.equal(model(ids)[0][..., :old], loaded.model(ids)[0])
    e_row = tuned_base.weights["embed.weight"][tuned_base.vocab.char_id("e")]
    assert torch.equal(model.embed.weight[vocab.chars.index("é")], e_row)  # reads like its look-alike
    unknown_bias = tuned_base.weights["head.bias"][0]
    assert model.head.bias[vocab.chars.index("œ")] == unknown_bias  # and starts as rare as the unknown symbol


@needs_corpus
def test_fine_tuning_keeps_the_base_and_adds_the_new_books_characters(base, french_book, tmp_path):
    out = tmp_path / "tuned"
    assert train_main([str(french_book), "--out", str(out), "--from", str(base), "--epochs", "0.3", *TUNE]) == 0
    tuned, original = load_model_folder(out), load_model_folder(base)
    old = len(original.vocab)
    assert tuned.vocab.chars[:old] == original.vocab.chars
    added = tuned.vocab.chars[old:]
    assert {"é", "à", "ç", "ê", "è", "«", "»"} <= set(added)
    assert "é" not in original.vocab.chars
    for name, tensor in original.model.state_dict().items():
        shape = tuple(tuned.model.state_dict()[name].shape)
        expected = (len(tuned.vocab), *tensor.shape[1:]) if name in ("embed.weight", "head.weight", "head.bias") \
            else tuple(tensor.shape)
        assert shape == expected, name
    assert original.casing.words["gryphon"][0] == "Gryphon"  # training records how the book prints its words...
    assert tuned.casing.words["gryphon"][0] == "Gryphon"  # ...over the base's
    assert tuned.casing.words["kitty"][0] == "Kitty"
    assert tuned.casing_note == ""  # made for the tuned vocabulary, not the base's
    recorded = tuned.config["base"]
    assert recorded["name"] == "base" and recorded["path"] == str(base)
    assert recorded["weights_sha256"] == hashlib.sha256((base / "model.safetensors").read_bytes()).hexdigest()
    assert recorded["books"] == [str(CORPUS / "wonderland.txt")]
    training = tuned.config["training"]
    assert training["from_model"] == str(base) and training["lr"] == 1e-3 and training["dropout"] == 0.0  # typed
    with Generator(out) as generator:
        text = generator.generate("« l'été", 80, rng_seed=1)
    assert len(text) == 80
    scored = io.StringIO()  # `python -m train.eval`'s main() here (tests/test_train_eval.py runs the CLI)
    with contextlib.redirect_stdout(scored):
        assert eval_main([str(out), str(french_book)]) == 0
    assert f"model: {out} (fine-tuned from base (1 book))" in scored.getvalue()


@needs_corpus
def test_fine_tuning_defaults_apply_to_what_was_not_typed(base, french_book, tmp_path):
    out = tmp_path / "tuned"
    assert train_main([str(french_book), "--out", str(out), "--from", str(base), "--epochs", "0.05",
                       "--batch", "8", "--seq-len", "40", "--no-progress", "--sample-chars", "0", "--minutes", "0",
                       "--threads", "1", "--lr", "5e-4"]) == 0
    training = load_model_folder(out).config["training"]
    from train.settings import FINETUNE_DEFAULTS

    assert training["lr"] == 5e-4
    for name in ("dropout", "embed_dropout", "weight_drop", "warmup_steps"):
        assert training[name] == FINETUNE_DEFAULTS[name], name


@needs_corpus
def test_from_none_is_training_from_scratch_bit_for_bit(tmp_path):
    from train.loop import Trainer, prepare
    from train.settings import parse_settings

    book = str(CORPUS / "alice29.txt")
    args = [book, "--epochs", "0.2", "--eval-every", "1000", *TINY]
    assert train_main([*args, "--out", str(tmp_path / "cli")]) == 0
    settings = parse_settings([*args, "--out", str(tmp_path / "direct")])
    trainer = Trainer(settings, prepare(settings), log=lambda line: None)  # no base: the scratch path
    assert trainer.run()
    cli, direct = load_model_folder(tmp_path / "cli"), load_model_folder(tmp_path / "direct")
    assert cli.config["base"] is None
    assert cli.vocab.chars == direct.vocab.chars
    for name, tensor in direct.model.state_dict().items():
        assert torch.equal(cli.model.state_dict()[name], tensor), name


@needs_corpus
def test_architecture_options_clash_with_a_base_in_one_line(base, tmp_path):
    code, err = train_here(str(CORPUS / "alice29.txt"), "--out", str(tmp_path / "m"), "--from", str(base),
                           "--hidden", "64")  # main() of `python -m train` (tests/test_train.py runs the CLI's)
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "--hidden 64" in err and "--from none" in err


@needs_corpus
def test_keep_case_with_a_lowercase_base_trains_from_scratch_and_says_so(base, tmp_path):
    out = tmp_path / "cased"
    code, err = train_here(str(CORPUS / "alice29.txt"), "--out", str(out), "--from", str(base), "--keep-case",
                           "--epochs", "0.05", "--val-frac", "0.02", *TUNE)  # (a full-size model: little to score)
    assert code == 0, err
    assert "lowercase, so this run trains from scratch" in err
    loaded = load_model_folder(out)
    assert loaded.config["base"] is None and not loaded.vocab.lowercase and "A" in loaded.vocab.chars


def test_a_missing_base_is_one_line(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("alice " * 2000)
    code, err = train_here(str(book), "--out", str(tmp_path / "m"), "--from", str(tmp_path / "nowhere"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "nowhere" in err


@needs_corpus
def test_a_stopped_fine_tuning_resumes_the_same_run(base, tmp_path):
    book = str(CORPUS / "alice29.txt")
    args = ["--from", str(base), "--epochs", "1", "--eval-every", "100", "--checkpoint-minutes", "100", *TUNE]
    straight, interrupted, _ = train_straight_and_interrupted(book, args, tmp_path)
    code, resumed = train_here("--resume", "--out", str(interrupted), "--no-progress")
    assert code == 0, resumed
    a = load_file(str(straight / "checkpoint.safetensors"))
    b = load_file(str(interrupted / "checkpoint.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("model.", "optim."))), "resume diverged"
    assert json.loads((interrupted / "config.json").read_text())["base"]["name"] == "base"


def test_the_bundled_library_model_is_valid_small_and_read_no_carroll():
    folder = BUNDLED_MODELS / "library"
    loaded = load_model_folder("library")
    assert loaded.path == folder
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 10 * 1024 * 1024
    assert loaded.vocab.lowercase and loaded.config["base"] is None
    books = [b["name"] for b in loaded.config["corpus"]["books"]]
    assert len(books) == 126
    assert not any("alice" in b or "looking-glass" in b or "carroll" in b for b in books)
    bundled_alice = load_model_folder("alice")
    assert bundled_alice.config["base"]["name"] == "library"
    assert bundled_alice.vocab.chars[:len(loaded.vocab)] == loaded.vocab.chars


def test_the_library_recipe_lists_the_126_books_and_is_a_valid_training_command(tmp_path):
    from train.library import RECIPE, library_books
    from train.settings import parse_settings

    downloads = library_books(None)
    assert len(downloads) == 126 and all(b.startswith("gutenberg:") for b in downloads)
    assert "gutenberg:11" not in downloads and "gutenberg:12" not in downloads  # no Carroll
    settings = parse_settings(["book.txt", *RECIPE])
    assert (settings.hidden, settings.layers, settings.from_model) == (512, 2, "none")
    shared = CORPUS.parent / "library"
    if shared.is_dir():
        files = library_books(shared)
        assert files == sorted(str(p) for p in shared.glob("*.txt"))
    (tmp_path / "pg16-peter-pan.txt").write_text("only one of them")
    assert library_books(tmp_path) == downloads  # an incomplete folder: download them all
