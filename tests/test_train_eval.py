"""`python -m train.eval` (bits/char of any model on any text, recorded on request) and
`python -m train --check` (a book read as training would read it, nothing written)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

from test_train import ROOT, private_cache, run_cli  # noqa: F401 (private_cache: autouse)

from engine.modelfolder import BUNDLED_MODEL


def test_eval_scores_text_with_unknown_characters_and_records_the_score_in_the_model_config(tmp_path):
    """One scoring run for both facts (its python and torch take seconds to start): a text full of
    characters the model never saw is scored, and --record stores the score and nothing else."""
    model = tmp_path / "alice"
    shutil.copytree(BUNDLED_MODEL, model)
    before = json.loads((model / "config.json").read_text(encoding="utf-8"))
    odd = tmp_path / "odd.txt"
    odd.write_text("Ωmega ☃ snowman — “déjà vu” 😀 and alice said ‘hello’.\n" * 40, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "train.eval", str(model), str(odd), "--record", "--device", "cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("bpc: ")
    printed = float(last.split()[1])
    assert 0 < printed < 20
    after = json.loads((model / "config.json").read_text(encoding="utf-8"))
    entry = after["metrics"]["eval"]["odd.txt"]
    assert entry["bpc"] == round(printed, 4)
    assert entry["sha256"] == hashlib.sha256(odd.read_bytes()).hexdigest()
    assert entry["command"].startswith("python -m train.eval ") and "--record" in entry["command"]
    del after["metrics"]["eval"]["odd.txt"]
    assert after == before  # nothing else in config.json changed
    missing = subprocess.run([sys.executable, "-m", "train.eval", str(tmp_path / "nowhere"), str(odd)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no such model folder" in missing.stderr


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
