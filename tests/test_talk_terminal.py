"""Talking to a character in the terminal: /talk lists the book's characters and picks one; each
line is then said to them and they answer (Enter: they go on); /retry, /undo, /save and /show work on
dialogue turns; bad turns are one line each and leave the story as it was; `--talk NAME` answers once
(with --seed or a pipe), or starts the terminal talking to NAME.
The real bundled model in a pseudo-terminal and as a subprocess."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_story_terminal import ROOT, answered, quit_terminal, spawn_terminal

from bot.settings import Settings
from bot.terminal.model_slot import ModelSlot
from bot.terminal.repl import Repl
from bot.terminal.session import PROMPT
from engine import BUNDLED_MODEL

FAST = {"ALICE_BEST_OF": "2"}  # these tests are about the turns, not best-of


def answer_end(name: str = "the Hatter") -> str:
    """How `name`'s answer ends on screen: the attribution, or the speech going on after it; a blank line."""
    return f"\u201d said {re.escape(name)}\\.(?: \u201c[^\u201c\u201d]+\u201d)?\r\n\r\n"


ANSWER_END = answer_end()


def test_real_terminal_talks_to_a_character(tmp_path: Path):
    pexpect = pytest.importorskip("pexpect")
    child = spawn_terminal(pexpect, tmp_path, 40, FAST)

    def answer(keys: str) -> None:  # the Hatter's answer, then a blank line and the prompt
        child.send(keys)
        child.expect_exact("\u201c")
        child.expect(ANSWER_END)
        child.expect_exact(PROMPT.strip())

    def saved(name: str) -> str:
        answered(child, f"/save {name}\r", "saved the story")
        return (tmp_path / name).read_text()

    try:
        child.expect_exact(PROMPT.strip())
        answered(child, "/talk\r", "characters of this book: Alice, ")
        answered(child, "/seed 3\r", "random seed = 3")
        answered(child, "/talk hatter\r", "talking to the Hatter")
        answer("Who are you?\r")
        one = saved("one.txt")
        assert one.startswith("\n\n\u201cWho are you?\u201d said Alice.\n\n\u201c")
        assert re.search(ANSWER_END.replace("\r\n\r\n", "") + "$", one.rstrip("\n"))
        assert one.count("\u201d said") == 2
        answer("\r")  # Enter: the Hatter goes on
        two = saved("two.txt")
        assert two.startswith(one.rstrip("\n")) and two.count("\u201d said the Hatter.") == 2
        answer("/retry\r")
        retried = saved("retried.txt")
        assert retried.startswith(one.rstrip("\n")) and retried != two
        answered(child, "/undo\r", "took back the last answer")
        assert saved("undone.txt") == one
        for bad, said in [("/talk alice\r", "you speak as Alice"), ('/talk "x"\r', "may not hold quotation marks"),
                          ("/talk " + "x" * 200 + "\r", "200 characters long; at most 48"),
                          ("y" * 5000 + "\r", "that is 5,000 characters; say it in at most 2,000")]:
            answered(child, bad, said)
        assert saved("still.txt") == one  # refused turns change nothing
        answered(child, "/show\r", "Who are you?")
        answered(child, "/undo\r", "took back the last answer")
        answered(child, "/undo\r", "took back the last line")
        answered(child, "/talk off\r", "back to the story")
        child.send("the end\r")
        child.expect_exact("\r\n\r\n")
        child.expect_exact(PROMPT.strip())
        assert saved("story.txt").startswith("the end")  # the answer and the line were taken back
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)


def test_talk_lists_nobody_for_a_model_without_a_record_but_talks_to_anyone(tmp_path: Path):
    pexpect = pytest.importorskip("pexpect")
    model = tmp_path / "plain"
    bundled = ROOT / "engine" / "models" / "alice"
    model.mkdir()
    for part in bundled.iterdir():
        if part.is_file() and part.name != "speakers.json":
            (model / part.name).symlink_to(part)
    child = spawn_terminal(pexpect, tmp_path, 40, {**FAST, "ALICE_MODEL": str(model)})
    try:
        child.expect_exact(PROMPT.strip())
        answered(child, "/talk\r", "no characters are recorded: this model has no speakers.json")
        answered(child, "/talk the Griffin\r", "talking to the Griffin")
        child.send("Hello!\r")
        child.expect(answer_end("the Griffin"))
        child.expect_exact(PROMPT.strip())
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)


def test_talk_option_starts_the_terminal_talking_to_the_character(tmp_path: Path):
    """`alice --talk hatter`: as if `/talk hatter` were typed first, so a typed line is answered by the
    Hatter; a bad name is /talk's one line, and the lines go to the story. `--rng-seed` is the
    terminal's random seed from the start, as after `/seed`."""
    pexpect = pytest.importorskip("pexpect")
    child = spawn_terminal(pexpect, tmp_path, 40, FAST, args=("--talk", "hatter", "--rng-seed", "7"))
    try:
        child.expect_exact("talking to the Hatter: each line you type is said to them")
        child.expect_exact(PROMPT.strip())
        answered(child, "/seed\r", "random seed is 7")
        child.send("Who are you?\r")
        child.expect(ANSWER_END)
        child.expect_exact(PROMPT.strip())
        answered(child, "/save talk.txt\r", "saved the story")
        assert (tmp_path / "talk.txt").read_text().startswith("\n\n\u201cWho are you?\u201d said Alice.\n\n\u201c")
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)

    child = spawn_terminal(pexpect, tmp_path, 40, FAST, args=("--talk", "alice"))
    try:
        child.expect_exact("/talk: you speak as Alice; talk to somebody else\r\n")
        child.expect_exact(PROMPT.strip())
        answered(child, "/talk hatter\r", "talking to the Hatter")  # the REPL is the usual one
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)


def test_talk_option_shows_in_the_toolbar_from_the_start():
    """(prompt_toolkit draws no toolbar in the pseudo-terminal above, which answers no cursor requests)"""
    model = SimpleNamespace(loaded=SimpleNamespace(name="alice", path=BUNDLED_MODEL))
    slot = ModelSlot(Settings(), opener=lambda settings, path=None: model)
    slot.start()
    out = io.StringIO()
    repl = Repl(Settings(), slot, out, talk="mock turtle")
    assert repl.talk == "the Mock Turtle" and out.getvalue().startswith("talking to the Mock Turtle: ")
    assert repl.toolbar().startswith(" talking to the Mock Turtle \u2502 model alice \u2502")
    out = io.StringIO()
    assert Repl(Settings(), slot, out, talk='"x"').talk is None
    assert out.getvalue() == "/talk: a character's name may not hold quotation marks, @, < >, or markup\n"
    assert "talking to" not in Repl(Settings(), slot, io.StringIO()).toolbar()


def run_python(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`python ARGS` in the repository, with none of the user's ALICE_/DISCORD_ settings but FAST's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), **FAST)
    return subprocess.run([sys.executable, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def run_alice(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run_python("-m", "bot", "--device", "cpu", *args, stdin=stdin)


def test_talk_one_shot_prints_one_answer_and_one_per_piped_line():
    once = run_alice("--talk", "hatter", "--seed", "Who are you?", "--rng-seed", "1")
    assert once.returncode == 0, once.stderr
    assert once.stdout.startswith("\u201c")
    assert re.fullmatch(ANSWER_END.replace("\r\n\r\n", "\n"), once.stdout[once.stdout.index("\u201d"):])
    piped = run_alice("--talk", "the Queen", "--rng-seed", "1", stdin="Who are you?\nWhy?\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.count("\u201d said the Queen.") == 2 and len(piped.stdout.splitlines()) >= 2


@pytest.mark.parametrize("args, said", [
    (["--talk", "", "--seed", "hi"], "a character's name is empty"),
    (["--talk", "<@123>", "--seed", "hi"], "may not hold quotation marks, @"),
    (["--talk", "hatter", "--seed", "   "], "the question is empty"),
])
def test_talk_one_shot_refuses_bad_turns_in_one_line(args, said):
    done = run_alice(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert said in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("args, stdin", [(["--talk", "<@1>", "--seed", "hi"], None), (["--talk", "<@1>"], "hi\n")])
def test_a_bad_name_is_refused_before_the_model_loads(args, stdin):
    """One-shot and piped alike: one line, exit 2, nothing read or written, and torch never imported."""
    code = ("import atexit, runpy, sys; atexit.register(lambda: print('torch' in sys.modules, file=sys.__stdout__)); "
            f"sys.argv = ['alice', '--device', 'cpu', *{args!r}]; runpy.run_module('bot', run_name='__main__')")
    done = run_python("-c", code, stdin=stdin)
    assert (done.returncode, done.stdout) == (2, "False\n")
    assert done.stderr == "alice: a character's name may not hold quotation marks, @, < >, or markup\n"
