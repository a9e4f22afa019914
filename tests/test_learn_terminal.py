"""The terminal's `/learn`: a real REPL in a pseudo-terminal trains a book in the background (real,
tiny training in a child process) while the story goes on, and `/model NAME` then talks to it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from test_learn_discord import CORPUS, TWO_EPOCHS, WAIT, needs_corpus
from test_story_terminal import quit_terminal

from bot.learn.lesson import Lesson
from bot.learn.training_job import LearnJob
from bot.settings import Settings
from bot.terminal.learn_command import TerminalLearner, models_folder
from bot.terminal.model_slot import ModelSlot
from bot.terminal.repl import Repl
from bot.terminal.session import PROMPT

ROOT = Path(__file__).resolve().parents[1]


@needs_corpus
def test_learn_trains_in_the_background_and_a_ctrl_c_for_the_story_leaves_it_alone(tmp_path, ctrl_c_reaches_children):
    pexpect = pytest.importorskip("pexpect")
    (tmp_path / "book.txt").write_bytes((CORPUS / "wonderland.txt").read_bytes()[:20_000])
    models = tmp_path / "models"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "DISCORD_"))}
    env.update(PROMPT_TOOLKIT_NO_CPR="1", ALICE_HISTORY=str(tmp_path / "history"), PYTHONPATH=str(ROOT), TERM="xterm",
               ALICE_MODELS_DIR=str(models), ALICE_LEARN_TRAIN_ARGS=TWO_EPOCHS, XDG_CACHE_HOME=str(tmp_path / "cache"))
    child = pexpect.spawn(sys.executable, ["-m", "bot", "--len", "1000000", "--temp", "0", "--device", "cpu"],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=60, dimensions=(24, 160))
    try:
        child.expect_exact(PROMPT.strip())
        child.send("/info\r")  # waits for the model to load
        child.expect_exact("val bits/char")
        child.send("/learn book.txt tiny --minutes 0.1\r")
        child.expect_exact("learning tiny from book.txt in the background")
        # (the toolbar's progress is not looked at here: prompt_toolkit shows no toolbar in a terminal that
        # does not answer its cursor-position requests, as this one, PROMPT_TOOLKIT_NO_CPR; see below)
        child.send("alice was\r")  # the story goes on meanwhile
        child.expect_exact("alice was")  # the line as typed
        child.expect_exact("\r\n")
        child.expect(r"[a-z]{4}")  # the continuation streams in (no escape sequence has four letters)
        child.sendintr()  # stops the story, not the training (its own session)
        child.expect_exact("[stopped]")
        child.expect_exact("learned tiny from book.txt in", timeout=WAIT)
        child.expect_exact("/model tiny talks to it")
        child.send("/model tiny\r")
        child.expect_exact(f"loaded tiny from {models / 'tiny'}")
        child.expect_exact(PROMPT.strip())
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)
    assert sorted(p.name for p in models.iterdir()) == ["tiny"]


def test_bad_learn_lines_are_one_line_each(tmp_path) -> None:
    notes: list[str] = []
    learner = TerminalLearner(Settings(models_dir=str(tmp_path), learn_minutes=5.0), notes.append)
    (tmp_path / "holmes").mkdir()
    (tmp_path / "book.txt").write_text("some words")
    cases = {
        "": "usage: /learn FILE|gutenberg:N NAME [--minutes M] [--replace]; /learn stop cancels",
        "missing.txt holmes2": "/learn: missing.txt: no such file",
        f"{tmp_path / 'book.txt'} holmes":
            "/learn: there is already a model called holmes; add --replace to train it again",
        f"{tmp_path / 'book.txt'} a.b": "/learn: 'a.b' is not a model name: letters, digits, - and _, at most 32",
        f"{tmp_path / 'book.txt'} x --minutes 6": "/learn: --minutes 6 is over this bot's limit of 5 minutes",
        "stop": "/learn stop: nothing is being learnt",
    }
    for line, expected in cases.items():
        assert learner.command(line) == expected
    assert learner.toolbar() is None and notes == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.txt", "holmes"]
    assert learner.resolve("Holmes") == str(tmp_path / "holmes") and learner.resolve("nobody") == "nobody"


def test_models_go_to_the_user_data_folder_without_alice_models_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert models_folder(Settings()) == tmp_path / "alice" / "models"
    assert models_folder(Settings(models_dir=str(tmp_path / "m"))) == tmp_path / "m"


def test_the_toolbar_shows_the_runs_progress(tmp_path) -> None:
    repl = Repl(Settings(models_dir=str(tmp_path)), ModelSlot(Settings(), opener=lambda s, model=None: None), out=None)
    job = LearnJob(Lesson("gutenberg:11", "holmes", tmp_path), tmp_path / ".learn-holmes")  # not started
    repl.learner.job = job
    assert "learning holmes: starting" in repl.toolbar()
    job.progress.update({"progress": 0.1, "train_bpc": 2.0, "best_bpc": None})
    job.progress.first = (job.progress.first[0] - 10, 0.1)  # 10 s ago at 10%
    job.progress.update({"progress": 0.3, "train_bpc": 1.9, "best_bpc": 1.6213})
    part = next(p for p in repl.toolbar().split(" │ ") if p.startswith("learning"))
    assert part == "learning holmes: 30% · 1.62 bits/char · about 35 s left"  # 20% in 10 s: 70% in 35 s
    assert repl.toolbar().endswith("/help")
