"""The interactive terminal: a prompt_toolkit session around `Repl`.

History lives in a file under the user's data directory (Up recalls, Ctrl-R searches, greyed
suggestions come from it); the model loads in the background while the first prompt is up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from bot.settings import Settings
from bot.terminal.learn_command import TerminalLearner
from bot.terminal.model_slot import ModelSlot
from bot.terminal.repl import Repl

PROMPT = "❧ "  # distinctive, so that a test in a pseudo-terminal can wait for it
HISTORY_ENV = "ALICE_HISTORY"


def history_path() -> Path:
    """$ALICE_HISTORY, else `history` in the user's data directory (XDG on Linux)."""
    override = os.environ.get(HISTORY_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("alice")) / "history"


def open_history(path: Path) -> History:
    """A history file, created if needed; in memory only if the file cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as exc:
        print(f"history will not be saved ({path}: {exc.strerror})", file=sys.stderr)
        return InMemoryHistory()
    return FileHistory(str(path))


def make_session(history: History, input: Input | None = None, output: Output | None = None) -> PromptSession:
    """The prompt: history with Up / Ctrl-R (emacs bindings) and suggestions from it."""
    return PromptSession(history=history, auto_suggest=AutoSuggestFromHistory(), input=input, output=output)


def run_terminal(settings: Settings, session: PromptSession | None = None, out: TextIO | None = None,
                 slot: ModelSlot | None = None, talk: str | None = None, rng_seed: int | None = None) -> int:
    """Read lines until /quit or Ctrl-D (exit code 0). Ctrl-C at the prompt clears the line. With
    `talk` (`alice --talk NAME`), the lines are said to NAME from the start, as after `/talk NAME`."""
    out = out or sys.stdout  # the real stdout, captured before patch_stdout replaces it
    session = session or make_session(open_history(history_path()))
    slot = slot or ModelSlot(settings, on_loaded=lambda error: _loaded(session, error))
    # print from the training's thread (patch_stdout keeps the prompt intact); the toolbar shows its progress
    learner = TerminalLearner(settings, notify=print, on_change=lambda: _redraw(session))
    slot.start()  # before the Repl: `talk` waits for the model, whose book knows the name
    try:
        repl = Repl(settings, slot, out, learner, talk, rng_seed)
        with patch_stdout(raw=True):
            while True:
                try:
                    line = session.prompt(PROMPT, bottom_toolbar=repl.toolbar)
                except KeyboardInterrupt:
                    continue  # a fresh, empty prompt
                except EOFError:
                    return 0
                try:
                    if not repl.handle_line(line):
                        return 0
                except KeyboardInterrupt:  # e.g. while waiting for a model to load
                    out.write("\n[interrupted]\n")
                except Exception as exc:  # a fault in one request should not end the session
                    out.write(f"\nerror: {type(exc).__name__}: {exc}\n")
    finally:
        learner.close()
        slot.close()


def _loaded(session: PromptSession, error: str | None) -> None:
    """From the loader thread: say what failed, or redraw the toolbar ("loading…" -> the name)."""
    if error:
        print(f"could not load the model: {error}")  # patch_stdout keeps the prompt intact
    elif session.app.is_running:
        session.app.invalidate()


def _redraw(session: PromptSession) -> None:
    """From another thread: show the toolbar's new figures."""
    if session.app.is_running:
        session.app.invalidate()
