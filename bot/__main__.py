"""`alice` (python -m bot): the terminal front end; `alice discord` / `alice-discord`: the Discord bot.

Only argparse and the settings load at start-up; torch comes with the model, later.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from bot.settings import Settings, SettingsError, add_setting_options, load_settings
from bot.terminal.typed_text import forgiving, readable

SETTING_FLAGS = {  # setting -> its option and metavar; defaults and help come from bot/settings.py
    "model": "--model DIR",
    "device": "--device DEVICE",
    "precision": "--precision P",
    "length": "--len N",  # any length: ALICE_MAX_LENGTH caps Discord's replies only
    "temperature": "--temp T",
    "top_k": "--top-k K",
    "top_p": "--top-p P",
    "words": "--words MODE",
    "best_of": "--best-of K",
    "case": "--case MODE",
    "max_seed_chars": "--max-seed-chars N",
    "exact": "--exact",  # --len N writes exactly N characters instead of ending at a sentence end near N
}

DESCRIPTION = """\
A character-level LSTM that learns a book and talks back in its voice.

  alice                      interactive: type a seed, the book continues it (/help inside)
  alice --seed TEXT          print one continuation of TEXT and exit
  ... | alice                every input line is a seed; one continuation per line
  alice --talk NAME --seed T say T to a character of the book (the Hatter); print their answer
  alice --talk NAME          interactive, talking to NAME from the start (as after /talk NAME)
  alice discord [...]        run the Discord bot (same as alice-discord)

Printed text is the continuation only, followed by a newline; --echo puts the seed first.
--len N is a target: the text ends at a sentence end near it (--exact: exactly N characters).
Settings resolve: command line > environment / .env > defaults (shown below)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + error
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alice", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", metavar="TEXT", help="generate one continuation of TEXT, print it and exit")
    parser.add_argument("--talk", metavar="NAME",
                        help="say the seed (or each piped line) to NAME, a character of the book, and print "
                        "their answer (e.g. --talk hatter --seed 'Who are you?'); interactive: talk to NAME "
                        "from the start")
    parser.add_argument("--echo", action="store_true",
                        help="print the seed before its continuation (with --seed or a pipe); default: off")
    parser.add_argument("--rng-seed", type=int, metavar="S",
                        help="random seed: the same seed text then gives the same output; default: random")
    add_setting_options(parser, SETTING_FLAGS)
    return parser


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Environment / .env first (errors name the variable), then each option given (errors name the
    option and its value: `--len 0: must be a positive number of characters`)."""
    settings = load_settings()
    for name, spec in SETTING_FLAGS.items():
        value, flag = getattr(args, name), spec.split()[0]
        if value is not None:
            try:
                settings = settings.with_overrides(**{name: value})
            except SettingsError as exc:
                raise SettingsError(f"{flag} {_as_typed(value)}: {exc.rule}") from None
    return settings


def _as_typed(value: object) -> str:
    """A parsed option value as the user most likely typed it (--temp 20, not 20.0)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `alice`; returns the exit code (0 fine, 2 bad input, 130 Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["discord"]:
        discord_main(argv[1:])
    from bot.model_loading import ModelLoadError

    args = build_parser().parse_args(argv)
    forgiving(sys.stdout)  # a strict locale's encoder never ends a generation halfway
    try:
        settings = resolve_settings(args)
        if args.model and not os.path.isdir(os.path.expanduser(args.model)):
            raise ModelLoadError(f"{args.model}: no such model folder")
        if args.seed is not None:
            from bot.terminal.oneshot import run_once

            return run_once(settings, readable(args.seed), sys.stdout, rng_seed=args.rng_seed, echo=args.echo,
                            talk=args.talk)
        if not sys.stdin.isatty():
            from bot.terminal.oneshot import run_pipe

            return run_pipe(settings, forgiving(sys.stdin), sys.stdout, rng_seed=args.rng_seed, echo=args.echo,
                            talk=args.talk)
        from bot.terminal.session import run_terminal

        return run_terminal(settings, talk=args.talk, rng_seed=args.rng_seed)
    except (SettingsError, ModelLoadError) as exc:
        print(f"alice: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130  # quietly, as a shell command should
    except BrokenPipeError:  # e.g. `alice --seed x | head -c 20`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 0


def discord_main(argv: list[str] | None = None) -> NoReturn:
    """Entry point of `alice-discord` (and `alice discord`): the Discord bot, written elsewhere."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        from bot.discord_app.alice_bot import main as run
    except ModuleNotFoundError as exc:
        if exc.name not in ("bot.discord_app.alice_bot", "discord"):
            raise
        what = "discord.py is not installed" if exc.name == "discord" else "bot/discord_app/alice_bot.py is missing"
        print(f"alice-discord: cannot start the Discord bot ({what})", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(argv))


if __name__ == "__main__":
    sys.exit(main())
