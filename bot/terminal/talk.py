"""`/talk`: which of the book's characters the terminal's lines are said to (engine/dialogue.py).

Kept free of prompt_toolkit and torch: the REPL hands it the model's Cast and the current character.
"""

from __future__ import annotations

from engine.dialogue import Cast, DialogueError, checked_name

OFF = ("off", "none", "story")
SHOWN = 20  # characters listed by /talk alone


def listing(cast: Cast) -> str:
    """/talk alone: the book's characters, most frequent first, or why none are recorded (one line)."""
    if not cast.speakers:
        return f"no characters are recorded: {cast.note}; /talk NAME still talks to anyone"
    names = ", ".join(cast.names[:SHOWN]) + (", …" if len(cast.names) > SHOWN else "")
    return f"characters of this book: {names} (/talk NAME; you speak as {cast.default_speaker()})"


def chosen(arg: str, cast: Cast) -> tuple[str | None, str]:
    """The character `/talk ARG` picks (None: back to the story) and the line saying so; DialogueError
    (one line) for a name that cannot be spoken to."""
    if arg.lower() in OFF:
        return None, "back to the story: lines you type are the story's again"
    character = cast.find(checked_name(arg))
    if character.lower().removeprefix("the ") == cast.default_speaker().lower().removeprefix("the "):
        raise DialogueError(f"you speak as {cast.default_speaker()}; talk to somebody else")
    return character, (f"talking to {character}: each line you type is said to them, who answer; Enter lets "
                       "them go on; /talk off returns to the story")
