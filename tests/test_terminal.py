"""The terminal REPL: commands and generation in-process (a fake model, no torch), a prompt_toolkit
session on pipe input for history and keys, and one run in a real pseudo-terminal."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from test_story_terminal import quit_terminal

from bot.model_info import describe_model
from bot.model_loading import ModelLoadError
from bot.settings import Settings
from bot.terminal.model_slot import ModelSlot
from bot.terminal.repl import COMMANDS, Repl
from bot.terminal.session import PROMPT, history_path, make_session, open_history, run_terminal

ROOT = Path(__file__).resolve().parents[1]


class FakeGenerator:
    """Streams 'abcdefgh…' and records how it was asked; `closed` tells whether the stream was closed."""

    def __init__(self, name: str = "fake") -> None:
        params = [SimpleNamespace(numel=lambda: 1000), SimpleNamespace(numel=lambda: 234)]
        self.loaded = SimpleNamespace(name=name, path=Path(f"/models/{name}"), device="cpu", vocab="x" * 47,
                                      config={"corpus": {"name": "book.txt"}},
                                      model=SimpleNamespace(parameters=lambda: params))
        self.calls: list[dict] = []
        self.stream_closed = False

    def stream(self, seed, length: int = 400, sampling=None, **kwargs):
        fields = asdict(sampling) if sampling is not None else {}  # recorded field by field; a story: its text
        self.calls.append({"seed": getattr(seed, "text", seed), "length": length, **fields, **kwargs})
        try:
            for i in range(length):
                yield "abcdefghijklmnopqrstuvwxyz"[i % 26]
        finally:
            self.stream_closed = True


def make_repl(opener=None, settings: Settings | None = None) -> tuple[Repl, io.StringIO]:
    slot = ModelSlot(settings or Settings(), opener=opener or (lambda s, model=None: FakeGenerator(model or "fake")))
    slot.start()
    slot.wait()
    out = io.StringIO()
    return Repl(settings or Settings(), slot, out), out


def test_seed_streams_the_continuation_with_the_current_settings():
    repl, out = make_repl()
    for line in ["/len 5", "/temp 0.5", "/topk 3", "/topp 0.5", "/seed 7", "/best 2"]:
        assert repl.handle_line(line) is True
    out.truncate(0)
    out.seek(0)
    repl.handle_line("alice was ")
    assert out.getvalue() == "abcde\n\n"
    assert repl.slot.generator.calls == [
        {"seed": "alice was ", "length": 5, "temperature": 0.5, "top_k": 3, "top_p": 0.5, "words": "lexicon",
         "best_of": 2, "case": "book", "repeat_penalty": 0.5, "rng_seed": 7,
         "exact": False}]
    assert "best of 2" in repl.toolbar()


@pytest.mark.parametrize("line", ["/temp abc", "/temp 11", "/temp -1", "/len 0", "/len -5", "/len 2.5", "/len abc",
                                  "/topk -1", "/topk x", "/topp 0", "/topp 1.5", "/greedy maybe", "/seed x",
                                  "/best 0", "/best 65", "/best x", "/best 2.5"])
def test_a_bad_value_gets_one_line_naming_what_was_typed_and_changes_nothing(line):
    repl, out = make_repl()
    before = (repl.settings, repl.rng_seed)
    repl.handle_line(line)
    assert (repl.settings, repl.rng_seed) == before
    assert out.getvalue().count("\n") == 1, out.getvalue()
    assert out.getvalue().startswith(f"{line}: must be "), out.getvalue()
    assert "ALICE_" not in out.getvalue()  # nobody typed an environment variable


def test_len_takes_any_positive_length_whatever_the_discord_cap():
    repl, out = make_repl(settings=Settings(max_length=1500))
    repl.handle_line("/len 3300")
    assert out.getvalue() == "length = 3300\n"
    out.truncate(0)
    out.seek(0)
    repl.handle_line("alice")
    assert repl.slot.generator.calls[-1]["length"] == 3300
    assert len(out.getvalue()) == 3300 + len("\n\n")


def test_greedy_on_then_off_restores_the_temperature():
    repl, _ = make_repl()
    repl.handle_line("/temp 1.3")
    repl.handle_line("/greedy on")
    assert repl.settings.temperature == 0
    assert "greedy" in repl.toolbar()
    repl.handle_line("/greedy off")
    assert repl.settings.temperature == 1.3


def test_seed_off_goes_back_to_random():
    repl, _ = make_repl()
    repl.handle_line("/seed 42")
    assert repl.rng_seed == 42
    repl.handle_line("/seed off")
    assert repl.rng_seed is None


def test_toolbar_shows_the_current_settings():
    repl, _ = make_repl()
    repl.handle_line("/len 77")
    repl.handle_line("/topk 5")
    repl.handle_line("/seed 9")
    bar = repl.toolbar()
    for part in ["model fake", "len 77", "temp 0.8", "top-k 5", "top-p 0.95", "seed 9"]:
        assert part in bar


def test_help_lists_every_command_and_unknown_commands_are_named():
    repl, out = make_repl()
    repl.handle_line("/help")
    for name in COMMANDS:
        assert f"/{name}" in out.getvalue()
    repl.handle_line("/nonsense 3")
    assert "unknown command /nonsense" in out.getvalue().splitlines()[-1]


def test_quit_ends_and_an_empty_line_lets_the_story_go_on():
    repl, out = make_repl(settings=Settings(length=4))
    assert repl.handle_line("") is True
    assert out.getvalue() == "abcd\n\n" and [c["seed"] for c in repl.slot.generator.calls] == [""]
    assert repl.handle_line("/quit") is False


def test_ctrl_c_during_generation_keeps_the_text_closes_the_stream_and_goes_on():
    class InterruptAfter(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            if self.writes == 4:  # Ctrl-C arrives while characters are being printed
                raise KeyboardInterrupt
            return super().write(text)

    repl, _ = make_repl(settings=Settings(length=100))
    repl.out = out = InterruptAfter()
    assert repl.handle_line("alice") is True
    assert out.getvalue().endswith("abc\n[stopped]\n\n")
    assert repl.slot.generator.stream_closed


def test_a_seed_typed_while_loading_waits_with_a_note():
    release = threading.Event()

    def slow_opener(settings, model=None):
        release.wait(5)
        return FakeGenerator()

    slot = ModelSlot(Settings(), opener=slow_opener)
    slot.start()
    out = io.StringIO()
    repl = Repl(Settings(length=3), slot, out)
    assert "loading" in repl.toolbar()
    threading.Timer(0.2, release.set).start()
    repl.handle_line("alice")
    assert out.getvalue() == "(loading the model…)\nabc\n\n"
    assert "model fake" in repl.toolbar()


def test_model_command_swaps_the_model_and_keeps_it_on_failure():
    def opener(settings, model=None):
        if model == "broken":
            raise ModelLoadError("broken/config.json: missing")
        return FakeGenerator(model or "first")

    repl, out = make_repl(opener)
    first = repl.slot.generator
    repl.handle_line("/model broken")
    assert repl.slot.generator is first
    assert "broken/config.json: missing" in out.getvalue()
    repl.handle_line("/model 'other model'")
    assert repl.slot.generator.loaded.name == "other model"


def test_a_failed_first_load_is_reported_and_seeds_say_so():
    def opener(settings, model=None):
        raise ModelLoadError("nowhere: no such model folder")

    errors = []
    slot = ModelSlot(Settings(), opener=opener, on_loaded=errors.append)
    slot.start()
    out = io.StringIO()
    repl = Repl(Settings(), slot, out)
    repl.handle_line("alice")
    assert errors == ["nowhere: no such model folder"]
    assert "no model loaded (nowhere: no such model folder)" in out.getvalue()
    assert "no model" in repl.toolbar()


def test_info_tolerates_missing_metrics():
    text = describe_model(FakeGenerator("holmes").loaded)
    assert "holmes" in text and "book.txt" in text and "47 characters" in text
    assert "1,234" in text and "not measured" in text
    assert "fine-tuned from nothing (trained from scratch)" in text


def test_info_of_the_bundled_model():
    from bot.model_loading import open_generator

    generator = open_generator(Settings(device="cpu"))
    text = describe_model(generator.loaded)
    assert "alice" in text and "wonderland.txt" in text
    assert f"{len(generator.loaded.vocab)} characters" in text
    assert f"{generator.loaded.model.num_parameters():,}" in text
    assert "fine-tuned from library (126 books)" in text


# -- the prompt_toolkit session, on pipe input --------------------------------------------------

def run_session(history_file: Path, keys: str, generator: FakeGenerator | None = None) -> tuple[int, str]:
    generator = generator or FakeGenerator()
    slot = ModelSlot(Settings(length=3), opener=lambda s, model=None: generator)
    out = io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys)
        session = make_session(FileHistory(str(history_file)), input=pipe, output=DummyOutput())
        code = run_terminal(Settings(length=3), session=session, out=out, slot=slot)
    return code, out.getvalue()


def test_session_runs_commands_and_seeds_and_ctrl_d_quits_with_0(tmp_path):
    generator = FakeGenerator()
    code, out = run_session(tmp_path / "history", "/len 4\ralice\r\x04", generator)
    assert code == 0
    assert "length = 4" in out and "abcd\n" in out
    assert generator.calls[0]["seed"] == "alice"


def test_ctrl_c_at_the_prompt_clears_the_line(tmp_path):
    generator = FakeGenerator()
    code, _ = run_session(tmp_path / "history", "half a line\x03the queen\r/quit\r", generator)
    assert code == 0
    assert [c["seed"] for c in generator.calls] == ["the queen"]


def test_a_failing_generation_is_one_line_and_the_session_goes_on(tmp_path):
    class Failing(FakeGenerator):
        def stream(self, seed, length: int = 400, **kwargs):
            self.calls.append({"seed": seed.text})
            if seed.text == "boom":
                raise RuntimeError("engine fault")
            return super().stream(seed, length, **kwargs)

    generator = Failing()
    code, out = run_session(tmp_path / "history", "boom\rthe cat\r\x04", generator)
    assert code == 0
    assert "error: RuntimeError: engine fault\n" in out and out.endswith("abc\n\n")


def test_history_persists_across_runs_and_up_recalls_it(tmp_path):
    history = tmp_path / "sub" / "history"
    history.parent.mkdir()
    run_session(history, "the cat\r/len 3\r\x04")
    generator = FakeGenerator()
    run_session(history, "\x1b[A\x1b[A\r\x04", generator)  # Up twice: the line before "/len 3"
    assert [c["seed"] for c in generator.calls] == ["the cat"]
    assert "the cat" in history.read_text()


def test_history_file_lives_in_the_user_data_dir_unless_overridden(tmp_path, monkeypatch):
    monkeypatch.delenv("ALICE_HISTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform.startswith("linux"):
        assert history_path() == tmp_path / "data" / "alice" / "history"
    monkeypatch.setenv("ALICE_HISTORY", str(tmp_path / "h" / "hist"))
    assert history_path() == tmp_path / "h" / "hist"
    assert isinstance(open_history(history_path()), FileHistory)
    assert (tmp_path / "h" / "hist").is_file()


# -- a real pseudo-terminal ---------------------------------------------------------------------

def test_real_terminal_streams_stops_on_ctrl_c_and_quits_on_ctrl_d(tmp_path, ctrl_c_reaches_children):
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "DISCORD_"))}
    env.update(PROMPT_TOOLKIT_NO_CPR="1", ALICE_HISTORY=str(tmp_path / "history"), PYTHONPATH=str(ROOT), TERM="xterm")
    from bot.model_loading import open_generator

    # greedy, so the first characters are known (and far from the end of a million)
    start = open_generator(Settings(device="cpu")).generate("alice was", 40, temperature=0).split("\n")[0][:12]
    child = pexpect.spawn(sys.executable, ["-m", "bot", "--len", "1000000", "--temp", "0", "--device", "cpu"],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=30, dimensions=(24, 100))
    try:
        child.expect_exact(PROMPT.strip())
        child.send("alice was\r")
        child.expect_exact(start)  # the continuation streams in
        time.sleep(0.3)
        child.sendintr()
        child.expect_exact("[stopped]")
        child.expect_exact(PROMPT.strip())  # the prompt is back
        child.send("/len 5\r")
        child.expect_exact("length = 5")
        child.expect_exact(PROMPT.strip())  # raw mode again: Ctrl-D reaches prompt_toolkit as a key
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)
    assert "alice was" in (tmp_path / "history").read_text()
