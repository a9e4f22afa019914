"""`python -m train.eval` (bits/char of any model on any text, recorded on request) and
`python -m train --check` (a book read as training would read it, nothing written)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

from test_train import CORPUS, ROOT, TINY, needs_corpus, private_cache, run_cli  # noqa: F401 (private_cache: autouse)

from engine.modelfolder import BUNDLED_MODEL
from train.__main__ import main as train_main


@needs_corpus
def test_eval_scores_text_with_unknown_characters(tmp_path):
    out = tmp_path / "m"
    assert train_main([str(CORPUS / "alice29.txt"), "--out", str(out), "--epochs", "0.3", *TINY]) == 0
    odd = tmp_path / "odd.txt"
    odd.write_text("Ωmega ☃ snowman — “déjà vu” 😀 and alice said ‘hello’.\n" * 40, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "train.eval", str(out), str(odd), "--device", "cpu"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("bpc: ")
    assert 0 < float(last.split()[1]) < 20
    corrupt = run_eval_on_missing = subprocess.run(
        [sys.executable, "-m", "train.eval", str(tmp_path / "nowhere"), str(odd)], cwd=ROOT, capture_output=True,
        text=True, timeout=120)
    assert corrupt.returncode == 2 and "no such model folder" in run_eval_on_missing.stderr


def test_eval_record_stores_the_score_in_the_model_config(tmp_path):
    model = tmp_path / "alice"
    shutil.copytree(BUNDLED_MODEL, model)
    before = json.loads((model / "config.json").read_text(encoding="utf-8"))
    text = tmp_path / "queen.txt"
    text.write_text("“Off with her head!” the Queen shouted at the top of her voice.\n" * 30, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "train.eval", str(model), str(text), "--record", "--device", "cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = float(result.stdout.strip().splitlines()[-1].split()[1])
    after = json.loads((model / "config.json").read_text(encoding="utf-8"))
    entry = after["metrics"]["eval"]["queen.txt"]
    assert entry["bpc"] == round(printed, 4)
    assert entry["sha256"] == hashlib.sha256(text.read_bytes()).hexdigest()
    assert entry["command"].startswith("python -m train.eval ") and "--record" in entry["command"]
    del after["metrics"]["eval"]["queen.txt"]
    assert after == before  # nothing else in config.json changed


def test_check_reads_a_book_as_training_would_and_writes_nothing(tmp_path):
    """`--check` gives train's own one-line reason for a book it cannot learn from, without torch."""
    picture = tmp_path / "pic.txt"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    short = tmp_path / "short.txt"
    short.write_text("Alice was beginning to get very tired. " * 30)  # 1,170 characters: under 2 x 16 x 150
    good = tmp_path / "good.txt"
    good.write_text("Alice was beginning to get very tired of sitting by her sister on the bank. " * 80)
    out = tmp_path / "out"
    bad = run_cli(str(picture), "--check", "--out", str(out))
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {picture}: this is a PNG image, not a text file"
    too_short = run_cli(str(short), "--check", "--out", str(out))
    assert too_short.returncode == 2 and "at least 4,800 are needed" in too_short.stderr
    smaller = run_cli(str(short), "--check", "--batch", "4", "--seq-len", "100")  # the run's own minimum
    assert smaller.returncode == 0, smaller.stderr
    ok = subprocess.run([sys.executable, "-X", "importtime", "-m", "train", str(good), "--check", "--out", str(out)],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "ok: good.txt: 6,0" in ok.stderr, ok.stderr
    assert "| torch" not in ok.stderr and not out.exists()  # no torch imported, nothing written
