"""The names of the front ends' own commands: a model (and its command) may be called none of them."""

from __future__ import annotations

MAIN_MODEL = "alice"  # the command that serves ALICE_MODEL (or the bundled book)
BUILTIN_COMMANDS = frozenset({MAIN_MODEL, "ask", "models", "sync", "help"})  # Discord's story commands
LEARN_COMMANDS = frozenset({"learn", "reload", "stop"})  # !learn, !reload, and `learn stop`
RESERVED = BUILTIN_COMMANDS | LEARN_COMMANDS  # no new model takes one of these names
