"""The model folder contract: loading validates the three files against each other."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from engine.model import CharLSTM, ModelConfig
from engine.modelfolder import BUNDLED_MODEL, ModelFolderError, load_model_folder, save_model_folder
from engine.vocab import Vocab


@pytest.fixture
def folder(tmp_path):
    torch.manual_seed(0)
    vocab = Vocab.build("alice was beginning to get very tired")
    model = CharLSTM(ModelConfig(vocab_size=len(vocab), embed=8, hidden=16, layers=2))
    return save_model_folder(tmp_path / "m", model, vocab, {"name": "m", "metrics": {"best_val_bpc": 9.9}})


def test_saved_folder_loads_with_identical_weights(folder):
    loaded = load_model_folder(folder)
    assert not loaded.model.training
    ids = torch.tensor([loaded.vocab.encode("alice")])
    again = load_model_folder(folder)
    assert torch.equal(loaded.model(ids)[0], again.model(ids)[0])
    assert loaded.config["metrics"]["best_val_bpc"] == 9.9


def test_vocab_that_does_not_match_the_weights_names_the_files(folder):
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["chars"].append("#")
    (folder / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(ModelFolderError, match=r"config.json: vocab_size \d+ but vocab.json has \d+"):
        load_model_folder(folder)


def test_config_that_does_not_match_the_weights_names_the_tensor(folder):
    config = json.loads((folder / "config.json").read_text())
    config["architecture"]["hidden"] = 32
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match=r"model.safetensors: .* has shape"):
        load_model_folder(folder)


def test_truncated_weights_are_a_clear_error(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFolderError, match="model.safetensors: unreadable, truncated"):
        load_model_folder(folder)


def test_pickle_in_place_of_weights_is_refused_not_unpickled(folder):
    torch.save({"x": torch.zeros(1)}, folder / "model.safetensors")
    with pytest.raises(ModelFolderError, match="model.safetensors"):
        load_model_folder(folder)


@pytest.mark.parametrize("name, damage, message", [
    ("config.json", "{not json", "config.json: not valid JSON"),
    ("vocab.json", "[]", "vocab.json: expected a JSON object"),
    ("config.json", None, "config.json: missing"),
    ("model.safetensors", None, "model.safetensors: missing"),
])
def test_damaged_or_missing_files_are_named(folder, name, damage, message):
    if damage is None:
        (folder / name).unlink()
    else:
        (folder / name).write_text(damage)
    with pytest.raises(ModelFolderError, match=message) as info:
        load_model_folder(folder)
    assert "\n" not in str(info.value)


def test_newer_format_version_is_refused(folder):
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 2
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="format_version 2"):
        load_model_folder(folder)


def test_missing_folder_and_env_default(tmp_path, monkeypatch, folder):
    with pytest.raises(ModelFolderError, match="no such model folder"):
        load_model_folder(tmp_path / "nowhere")
    monkeypatch.setenv("ALICE_MODEL", str(folder))
    assert load_model_folder().path == folder


def test_bundled_model_is_small_and_valid(tmp_path):
    size = sum(p.stat().st_size for p in BUNDLED_MODEL.iterdir())
    assert size <= 10 * 1024 * 1024
    loaded = load_model_folder(shutil.copytree(BUNDLED_MODEL, tmp_path / "copy"))
    assert loaded.vocab.lowercase and len(loaded.vocab) == loaded.config["architecture"]["vocab_size"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_one_clear_error(folder):
    from engine.modelfolder import pick_device

    assert pick_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        load_model_folder(folder, "cuda")
