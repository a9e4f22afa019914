"""`python -m train --progress-json`: what a watching program (the bot's !learn) reads on stdout."""

from __future__ import annotations

import json

from test_train import CORPUS, TINY, needs_corpus, private_cache  # noqa: F401 (private_cache: the autouse fixture)

from train.__main__ import main as train_main


@needs_corpus
def test_progress_json_is_one_json_object_a_line_and_nothing_else(tmp_path, capsys):
    args = [str(CORPUS / "wonderland.txt"), "--out", str(tmp_path / "m"), "--epochs", "0.1", "--eval-every", "20",
            *TINY, "--progress-json"]
    assert train_main(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # fails on anything not JSON
    evaluations = [line for line in lines if "val_bpc" in line]
    assert len(evaluations) >= 2 and evaluations[0]["step"] == 20
    assert all(0 <= line["progress"] <= 1 for line in lines)
    assert [line["progress"] for line in lines] == sorted(line["progress"] for line in lines)
    assert lines[-1]["progress"] == 1.0 and lines[-1]["best_bpc"] == min(e["val_bpc"] for e in evaluations)
    assert lines[0]["best_bpc"] is None  # before the first evaluation


@needs_corpus
def test_without_the_flag_stdout_stays_empty(tmp_path, capsys):
    assert train_main([str(CORPUS / "wonderland.txt"), "--out", str(tmp_path / "m"), "--epochs", "0.02", *TINY]) == 0
    assert capsys.readouterr().out == ""
