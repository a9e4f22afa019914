"""bot/learn/ without a child process: reading a request, names, limits, progress, publishing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from bot.learn.lesson import LearnError, check_minutes, check_name, check_room, parse_request
from bot.learn.training_job import CHECKPOINT, UPLOAD, Progress, duration, publish, roughly
from engine import BUNDLED_MODEL


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_request_reads_words_and_options_in_any_order() -> None:
    request = parse_request("--minutes 2.5 gutenberg:11 holmes --replace")
    assert request.words == ["gutenberg:11", "holmes"] and request.minutes == 2.5 and request.replace
    assert parse_request("'my book.txt' x \u2014minutes=3").minutes == 3  # quotes; a phone's em dash
    assert parse_request("'my book.txt' x").words == ["my book.txt", "x"]
    for bad, said in [("x --minutes", "--minutes needs a number, not nothing"), ("x --minutes -1", "positive"),
                      ("'open", "cannot read that line")]:
        with pytest.raises(LearnError, match=said):
            parse_request(bad)


@pytest.mark.parametrize("name, taken, said", [
    ("Holmes", set(), None),
    ("a" * 32, set(), None),
    ("a" * 33, set(), "is not a model name"),
    ("two words", set(), "is not a model name"),
    ("..", set(), "is not a model name"),
    ("stop", set(), "one of my commands"),
    ("sync", set(), "one of my commands"),
    ("poe", {"poe"}, "one of my commands"),  # a command that is no folder of this models folder
])
def test_names(tmp_path, name: str, taken: set, said: str | None) -> None:
    if said is None:
        assert check_name(name, tmp_path, taken) == name.lower()
    else:
        with pytest.raises(LearnError, match=said):
            check_name(name, tmp_path, taken)


def test_an_existing_model_needs_replace(tmp_path) -> None:
    (tmp_path / "holmes").mkdir()
    with pytest.raises(LearnError, match="add --replace"):
        check_name("holmes", tmp_path, {"holmes"})
    assert check_name("holmes", tmp_path, {"holmes"}, replace=True) == "holmes"


def test_minutes_are_capped_by_the_setting() -> None:
    assert check_minutes(None, 0) is None  # the training defaults
    assert check_minutes(None, 5) == 5 and check_minutes(3, 5) == 3 and check_minutes(30, 0) == 30
    with pytest.raises(LearnError, match="over this bot's limit of 5 minutes"):
        check_minutes(6, 5)


def test_the_disk_limit_counts_the_whole_models_folder(tmp_path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "model.safetensors").write_bytes(b"\0" * (3 << 20))
    check_room(tmp_path, 200)  # 3 MB + room for a run
    with pytest.raises(LearnError, match=r"holds 3 MB; one more model would pass its limit of 100 MB"):
        check_room(tmp_path, 100)
    with pytest.raises(LearnError, match="limit of 200 MB"):
        check_room(tmp_path, 200, book_bytes=90 << 20)  # the book counts too
    check_room(tmp_path, 0)  # no limit


def test_progress_says_percent_bits_and_time_left() -> None:
    progress = Progress()
    assert progress.describe().startswith("starting")
    progress.update({"progress": 0.2, "train_bpc": 2.1, "best_bpc": None})
    assert progress.describe() == "20% · 2.10 bits/char"  # no pace yet
    progress.first = (progress.first[0] - 60, 0.2)  # a minute ago at 20%
    progress.update({"progress": 0.5, "train_bpc": 1.8, "best_bpc": 1.55})
    assert progress.describe() == "50% · 1.55 bits/char · about 2 min left"  # 30% a minute: 50% in 100 s
    assert [duration(s) for s in (4.4, 75, 3900)] == ["4 s", "1 min 15 s", "1 h 05 min"]
    assert [roughly(s) for s in (1, 33, 59, 75, 3900)] == ["5 s", "35 s", "60 s", "1 min", "1 h 05 min"]


def finished_run(folder: Path) -> Path:
    """A run's temp folder as train leaves it: a model (the bundled one, named after the folder), its
    checkpoint, an uploaded book."""
    shutil.copytree(BUNDLED_MODEL, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "name": folder.name}))
    (folder / CHECKPOINT).write_bytes(b"optimiser state")
    (folder / UPLOAD).mkdir()
    (folder / UPLOAD / "book.txt").write_text("the book")
    return folder


def test_publish_swaps_the_new_model_in_and_leaves_only_the_model(tmp_path) -> None:
    shutil.copytree(BUNDLED_MODEL, tmp_path / "holmes")
    (tmp_path / "holmes" / "model.safetensors").write_bytes(b"old weights")
    run = finished_run(tmp_path / ".learn-holmes-1")
    bpc = publish(run, tmp_path / "holmes")
    assert bpc == json.loads((BUNDLED_MODEL / "config.json").read_text())["metrics"]["best_val_bpc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holmes"]
    assert sha(tmp_path / "holmes" / "model.safetensors") == sha(BUNDLED_MODEL / "model.safetensors")
    assert not (tmp_path / "holmes" / CHECKPOINT).exists() and not (tmp_path / "holmes" / UPLOAD).exists()
    assert json.loads((tmp_path / "holmes" / "config.json").read_text())["name"] == "holmes"


def test_a_run_that_does_not_load_is_not_published_and_the_old_model_stays(tmp_path) -> None:
    shutil.copytree(BUNDLED_MODEL, tmp_path / "holmes")
    before = sha(tmp_path / "holmes" / "model.safetensors")
    run = finished_run(tmp_path / ".learn-holmes-1")
    (run / "model.safetensors").write_bytes(b"half a file")
    with pytest.raises(LearnError, match="the new model does not load"):
        publish(run, tmp_path / "holmes")
    assert sha(tmp_path / "holmes" / "model.safetensors") == before
