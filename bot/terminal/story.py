"""The terminal's story: one conversation that grows turn by turn (typed lines and the model's text).

Kept free of prompt_toolkit and torch: the REPL hands it a Generator, what was asked and where to write.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from bot.write_request import WriteRequest
from engine.conversation import MODEL, PERSON, Conversation
from engine.dialogue import DialogueError


def unquoted(arg: str) -> str:
    """A command's path argument without the quotes around it, if it has them: a path with spaces
    may be quoted (/save "my story.txt", /model 'models/my book')."""
    quoted = len(arg) > 1 and arg[0] == arg[-1] and arg[0] in "'\""
    return arg[1:-1] if quoted else arg


class Story:
    """The conversation so far and what each turn does to it. The model's state lives in the
    engine (it keeps the states of recent conversations); this keeps only the text."""

    def __init__(self) -> None:
        self.conversation = Conversation()
        self.retries = 0  # retries of the last continuation: each draws anew, even with a fixed /seed

    def __len__(self) -> int:
        return len(self.conversation)

    @property
    def text(self) -> str:
        return self.conversation.text

    def take_turn(self, generator: Any, request: WriteRequest, out: TextIO) -> None:
        """Add the typed line (`request.seed`; nothing for an empty one) and stream the model's
        continuation to `out`. Talking to a character (`request.talk`), the line is said to them and the
        answer is the continuation; a turn that cannot be taken is one line, the story unchanged."""
        if request.talk is None:
            self.conversation.add(request.seed, PERSON)
        self.retries = 0
        self._continue(generator, request, out)

    def retry(self, generator: Any, request: WriteRequest, out: TextIO) -> bool:
        """Replace the last continuation with a new one; False when the last turn is not the model's."""
        turns = self.conversation.turns
        if not turns or turns[-1].by != MODEL:
            return False
        character = turns[-1].character or None  # an answer is retried as an answer, by the same character
        self.conversation.undo()
        self.retries += 1
        seed = request.rng_seed
        request = replace(request, seed="", talk=character, rng_seed=None if seed is None else seed + self.retries)
        self._continue(generator, request, out)
        return True

    def undo(self) -> str:
        """Take back the last turn; says what went."""
        turn = self.conversation.undo()
        self.retries = 0
        if turn is None:
            return "nothing to undo: the story is empty"
        who = ("answer" if turn.character else "continuation") if turn.by == MODEL else "line"
        shown = " ".join(turn.text.split())
        shown = shown if len(shown) <= 40 else shown[:18] + "…" + shown[-18:]
        return f"took back the last {who} ({len(turn.text):,} characters: “{shown}”)"

    def new(self) -> str:
        self.conversation, self.retries = Conversation(), 0
        return "a new story: type its first line, or press Enter to let the book begin"

    def save(self, path_text: str, overwrite: bool = False) -> str:
        """Write the transcript to a file as plain text; one line either way. An existing file is
        replaced only with `overwrite` (/save!); an empty story is never written over anything."""
        command = "/save!" if overwrite else "/save"
        if not path_text:
            return f"{command} needs a file name"
        path = Path(unquoted(path_text)).expanduser()
        text = self.text
        if not text.strip():
            return f"{command} {path_text}: nothing to save, the story is empty (the file is untouched)"
        try:  # "x": the check and the creation are one step, so nothing appearing meanwhile is lost
            with path.open("w" if overwrite else "x", encoding="utf-8") as file:
                file.write(text if text.endswith("\n") else text + "\n")
        except FileExistsError:
            return f"/save {path_text}: {path} already exists; /save! {path_text} overwrites it"
        except OSError as exc:
            return f"{command} {path_text}: could not write it ({exc.strerror or type(exc).__name__})"
        return f"saved the story ({len(text):,} characters) to {path}"

    def show(self) -> str:
        return self.text if self.text.strip() else "(the story is empty)"

    def _continue(self, generator: Any, request: WriteRequest, out: TextIO) -> None:
        """Stream the next continuation to the output and add it to the story; Ctrl-C stops it and
        keeps what was written."""
        try:
            stream = request.stream(generator, self.conversation)
        except DialogueError as exc:  # nothing was added: the story is as it was
            out.write(f"{exc}\n")
            out.flush()
            return
        written: list[str] = []
        try:
            for piece in stream:
                written.append(piece)
                out.write(piece)
                out.flush()  # one character at a time is the point of streaming
        except KeyboardInterrupt:
            out.write("\n[stopped]")
        finally:
            stream.close()
            if request.talk is None:  # an answer is in the story already, as shown
                self.conversation.add("".join(written), MODEL)
        out.write("\n\n")
        out.flush()
