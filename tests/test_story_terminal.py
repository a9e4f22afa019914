"""The terminal's story: typed lines and continuations make one story; Enter goes on, /retry,
/undo, /new, /show and /save act on it. In-process with a scripted model, then once for real in a
pseudo-terminal with the bundled model."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.settings import Settings
from bot.terminal.model_slot import ModelSlot
from bot.terminal.repl import COMMANDS, Repl
from bot.terminal.session import PROMPT

ROOT = Path(__file__).resolve().parents[1]


class ScriptedModel:
    """Writes " part1.", " part2.", ... in turn; records the story it was asked to continue."""

    def __init__(self) -> None:
        self.loaded = SimpleNamespace(name="scripted")
        self.calls: list[dict] = []

    def stream(self, story, length: int = 400, **kwargs):
        self.calls.append({"story": story.text, **kwargs})
        yield from f" part{len(self.calls)}."


def make_repl(**settings) -> tuple[Repl, io.StringIO, ScriptedModel]:
    model = ScriptedModel()
    slot = ModelSlot(Settings(), opener=lambda s, path=None: model)
    slot.start()
    slot.wait()
    out = io.StringIO()
    return Repl(Settings(**settings), slot, out), out, model


def said(out: io.StringIO) -> str:
    """What was written since the last call."""
    text = out.getvalue()
    out.truncate(0)
    out.seek(0)
    return text


def test_lines_and_continuations_make_one_story():
    repl, out, model = make_repl()
    repl.handle_line("alice was")
    assert said(out) == " part1.\n\n"
    repl.handle_line("")  # Enter: the story goes on without new text
    repl.handle_line("the queen said")
    assert [c["story"] for c in model.calls] == ["alice was", "alice was part1.",
                                                "alice was part1. part2. the queen said"]
    repl.handle_line("/show")
    assert said(out).endswith("alice was part1. part2. the queen said part3.\n")
    assert "story 45 chars" in repl.toolbar()


def test_retry_replaces_the_last_continuation_with_new_draws():
    repl, out, model = make_repl()
    repl.handle_line("/seed 7")
    repl.handle_line("alice was")
    repl.handle_line("/retry")
    repl.handle_line("/retry")
    assert [c["story"] for c in model.calls] == ["alice was"] * 3  # never the continuation it replaces
    assert [c["rng_seed"] for c in model.calls] == [7, 8, 9]  # a fixed seed still draws anew
    assert repl.story.text == "alice was part3."
    repl.handle_line("the end")
    assert model.calls[-1]["rng_seed"] == 7


def test_retry_needs_a_continuation_to_replace():
    repl, out, model = make_repl()
    repl.handle_line("/retry")
    repl.story.conversation.add("a typed line")
    repl.handle_line("/retry")
    assert said(out).count("nothing to retry") == 2 and model.calls == []


def test_undo_takes_back_one_turn_at_a_time():
    repl, out, _ = make_repl()
    repl.handle_line("alice was")
    repl.handle_line("the queen")
    said(out)
    repl.handle_line("/undo")
    assert said(out) == "took back the last continuation (7 characters: “part2.”)\n"
    repl.handle_line("/undo")
    assert "took back the last line" in said(out) and repl.story.text == "alice was part1."
    repl.handle_line("/undo")
    repl.handle_line("/undo")
    repl.handle_line("/undo")
    assert said(out).splitlines()[-1] == "nothing to undo: the story is empty"
    assert repl.story.text == ""


def test_new_starts_an_empty_story():
    repl, out, model = make_repl()
    repl.handle_line("alice was")
    repl.handle_line("/new")
    repl.handle_line("/show")
    assert said(out).endswith("(the story is empty)\n")
    repl.handle_line("")
    assert model.calls[-1]["story"] == ""


def test_save_writes_the_story_and_a_bad_path_is_one_line(tmp_path: Path):
    repl, out, _ = make_repl()
    repl.handle_line("alice was")
    said(out)
    repl.handle_line(f"/save {tmp_path / 'story.txt'}")
    assert (tmp_path / "story.txt").read_text() == "alice was part1.\n"
    assert said(out) == f"saved the story (16 characters) to {tmp_path / 'story.txt'}\n"
    repl.handle_line(f"/save {tmp_path}/no/such/folder/story.txt")
    answer = said(out)
    assert answer.count("\n") == 1 and "could not write it (No such file or directory)" in answer
    repl.handle_line("/save")
    assert said(out) == "/save needs a file name\n"


def test_save_never_clobbers_a_file_and_never_writes_an_empty_story(tmp_path: Path):
    repl, out, _ = make_repl()
    kept = tmp_path / "kept.txt"
    kept.write_text("a story worth keeping\n")
    repl.handle_line(f"/save {kept}")
    assert said(out) == f"/save {kept}: nothing to save, the story is empty (the file is untouched)\n"
    repl.handle_line(f"/save! {kept}")
    assert said(out).count("\n") == 1 and kept.read_text() == "a story worth keeping\n"
    repl.handle_line(f"/save {tmp_path / 'empty.txt'}")
    assert not (tmp_path / "empty.txt").exists()
    repl.handle_line("alice was")
    said(out)
    repl.handle_line(f"/save {kept}")
    assert said(out) == f"/save {kept}: {kept} already exists; /save! {kept} overwrites it\n"
    assert kept.read_text() == "a story worth keeping\n"
    repl.handle_line(f"/save! {kept}")
    assert said(out) == f"saved the story (16 characters) to {kept}\n"
    assert kept.read_text() == "alice was part1.\n"


def test_exact_switches_between_exact_and_natural_lengths():
    repl, out, model = make_repl()
    repl.handle_line("alice")
    repl.handle_line("/exact on")
    repl.handle_line("")
    repl.handle_line("/exact maybe")
    assert [c["exact"] for c in model.calls] == [False, True]
    assert said(out).splitlines()[-1] == "/exact maybe: must be on or off"
    assert "len 400 (about)" not in repl.toolbar()


def test_help_names_the_story_commands():
    repl, out, _ = make_repl()
    repl.handle_line("/help")
    listing = said(out)
    for name in ("retry", "undo", "new", "save", "show", "exact"):
        assert name in COMMANDS and f"  /{name} " in listing


# -- a real pseudo-terminal ---------------------------------------------------------------------

def spawn_terminal(pexpect, tmp_path: Path, length: int, env: dict[str, str] | None = None,
                   args: tuple[str, ...] = (), **spawn):
    """`alice --len LENGTH [ARGS]` in a pseudo-terminal, with none of the user's ALICE_/DISCORD_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "DISCORD_"))}
    clean.update(PROMPT_TOOLKIT_NO_CPR="1", ALICE_HISTORY=str(tmp_path / "history"), PYTHONPATH=str(ROOT),
                 TERM="xterm", **(env or {}))
    return pexpect.spawn(sys.executable, ["-m", "bot", "--len", str(length), "--device", "cpu", *args],
                         cwd=str(tmp_path), env=clean, encoding="utf-8", timeout=60, dimensions=(24, 200), **spawn)


def quit_terminal(pexpect, child) -> None:
    """Ctrl-D at the prompt: the terminal ends, with exit status 0."""
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def answered(child, keys: str, answer: str) -> None:
    """Type `keys`; the terminal answers `answer`, then shows the prompt again."""
    child.send(keys)
    child.expect_exact(answer)
    child.expect_exact(PROMPT.strip())


def test_real_terminal_story_turns_then_the_books_case_and_lowercase(tmp_path: Path):
    """Turns, Enter, /retry, /undo, /show, /save, /new; then, in the same terminal (a start costs seconds),
    /case lower shows the text as the model writes it, /case book as the book prints it: the same text
    from the same seed, and the typed line as typed either way; /info says where the case comes from."""
    pexpect = pytest.importorskip("pexpect")
    child = spawn_terminal(pexpect, tmp_path, 40)
    seed = "The Queen said"

    def turn(keys: str) -> None:  # a continuation ends with a blank line, then the prompt is back
        child.send(keys)
        child.expect_exact("\r\n\r\n")
        child.expect_exact(PROMPT.strip())

    def command(keys: str, answer: str) -> None:
        answered(child, keys, answer)

    def saved(name: str) -> str:
        command(f"/save {name}\r", "saved the story")
        return (tmp_path / name).read_text()

    def story(case: str) -> str:
        command(f"/case {case}\r", f"case = {case}")
        turn(seed + "\r")
        text = saved(f"{case}.txt")
        command("/new\r", "a new story")
        return text

    try:
        child.expect_exact(PROMPT.strip())
        command("/seed 3\r", "random seed = 3")
        turn("alice was\r")
        turn("\r")  # Enter on an empty line: the story goes on
        two = saved("two.txt")
        command("/retry\r", "\r\n\r\n")
        retried = saved("retried.txt")
        command("/undo\r", "took back the last continuation")
        one = saved("one.txt")
        assert one.startswith("alice was") and len(one) > len("alice was\n")
        assert two.startswith(one[:-1]) and retried.startswith(one[:-1])  # same first turn, then ...
        assert two != retried  # ... the retried continuation is a new one
        command("/show\r", one.rstrip("\n").splitlines()[-1])
        command(f"/save {tmp_path}/missing/x.txt\r", "could not write it")
        command("/undo\r", "took back the last continuation")
        command("/undo\r", "took back the last line")
        command("/new\r", "a new story")
        command("/show\r", "(the story is empty)")
        command("/len 120\r", "length = 120")  # the case: continuations long enough to show some
        command("/seed 5\r", "random seed = 5")
        lower, book = story("lower"), story("book")
        command("/info\r", "(casing.txt)")
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)
    assert lower.startswith(seed) and book.startswith(seed)
    assert lower[len(seed):] == lower[len(seed):].lower() != book[len(seed):]
    assert book.lower() == lower.lower()


def test_real_terminal_save_refuses_to_clobber_and_takes_bytes_that_are_not_utf8(tmp_path: Path):
    """/save keeps a file that exists (/save! replaces it); 0xff 0xfe typed under a strict UTF-8 locale
    become U+FFFD: the story goes on, /save and /save! write it. One terminal for both: a start costs seconds."""
    pexpect = pytest.importorskip("pexpect")
    kept = tmp_path / "kept.txt"
    kept.write_text("a story worth keeping\n")
    child = spawn_terminal(pexpect, tmp_path, 20, {"PYTHONIOENCODING": "utf-8:strict"}, codec_errors="replace")

    def command(keys: str, answer: str) -> None:
        answered(child, keys, answer)

    try:
        child.expect_exact(PROMPT.strip())
        command("/save kept.txt\r", "nothing to save, the story is empty")
        command("/save! kept.txt\r", "nothing to save, the story is empty")
        assert kept.read_text() == "a story worth keeping\n"
        os.write(child.child_fd, b"alice \xff\xfe was\r")  # send() would encode it
        child.expect_exact("\r\n\r\n")
        child.expect_exact(PROMPT.strip())
        command("/save kept.txt\r", "already exists; /save! kept.txt overwrites it")
        assert kept.read_text() == "a story worth keeping\n"
        command("/save story.txt\r", "saved the story")
        command("/save! kept.txt\r", "saved the story")
        quit_terminal(pexpect, child)
        assert "Error" not in child.before
    finally:
        child.close(force=True)
    story = (tmp_path / "story.txt").read_text(encoding="utf-8")
    assert story.startswith("alice \ufffd\ufffd was") and kept.read_text(encoding="utf-8") == story
