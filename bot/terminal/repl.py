"""What the terminal does with one line: a line of the story (the book's voice continues it), an
empty line (it just goes on), or a /command that changes a setting or the story.

Kept free of prompt_toolkit so that tests drive it directly with any text stream as output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.model_info import describe_model, describe_precision
from bot.model_loading import ModelLoadError
from bot.settings import Settings, SettingsError
from bot.terminal.learn_command import TerminalLearner
from bot.terminal.model_slot import ModelSlot
from bot.terminal.story import Story, unquoted
from bot.terminal.talk import chosen, listing
from bot.terminal.typed_text import readable
from bot.write_request import WriteRequest, cast_of
from engine.bestof import BEST_OF_RULE
from engine.dialogue import DialogueError

if TYPE_CHECKING:
    from engine.generator import Generator

COMMANDS = {  # name: (argument, what it does); /help prints this table
    "help": ("", "this list"),
    "retry": ("", "replace the last continuation with a new one"),
    "undo": ("", "take back the last turn (a continuation, or a line you typed)"),
    "show": ("", "print the story so far"),
    "save": ("FILE", "write the story to FILE as plain text (never over an existing file)"),
    "save!": ("FILE", "the same, replacing FILE if it exists"),
    "new": ("", "start a new story"),
    "talk": ("NAME|off", "say each line to one of the book's characters, who answers (Enter: they go on); "
             "/talk alone lists them; off: back to the story"),
    "temp": ("T", "sampling temperature, 0-10 (0 = greedy, < 1 safer, > 1 wilder)"),
    "len": ("N", "characters per continuation (about: it ends at a sentence end, see /exact)"),
    "exact": ("on|off", "write exactly /len characters (on), or end at a sentence end near it (off)"),
    "topk": ("K", "sample only from the K likeliest characters (0 = off)"),
    "topp": ("P", "sample from the smallest set reaching probability P, in (0, 1] (1 = off)"),
    "greedy": ("on|off", "always take the likeliest character (on), or sample again (off)"),
    "seed": ("N|off", "random seed: the same seed text then gives the same output; off = random"),
    "words": ("lexicon|free", "write only words of the model's lexicon (lexicon), or spell freely (free)"),
    "best": ("K", "write each sentence as the best of K the model scores (1 = plain sampling)"),
    "case": ("book|lower", "show capitals where the book prints them (book), or all lowercase (lower)"),
    "model": ("PATH", "load another model folder"),
    "learn": ("FILE|gutenberg:N NAME", "teach it a book in the background (--minutes M, --replace; "
              "/learn stop cancels); /model NAME then talks to it"),
    "info": ("", "the model: name, corpus, vocabulary, validation bits/char, parameters"),
    "quit": ("", "leave (Ctrl-D does the same)"),
}


class Repl:
    """The terminal's state (generation settings, model) and its reaction to each line."""

    def __init__(self, settings: Settings, slot: ModelSlot, out: TextIO,
                 learner: TerminalLearner | None = None, talk: str | None = None, rng_seed: int | None = None) -> None:
        """`talk` (`alice --talk NAME`): start talking to NAME, as if `/talk NAME` were the first line
        typed (it waits for the model, whose book knows the name; a bad name is said in one line);
        `rng_seed` (`alice --rng-seed N`): the random seed, as after `/seed N`."""
        self.settings = settings
        self.slot = slot
        self.out = out
        self.rng_seed = rng_seed
        self.story = Story()
        self.talk: str | None = None  # the character each line is said to (/talk); None: lines are the story's
        # /greedy off goes back to this temperature
        self._warm_temperature = settings.temperature or Settings().temperature
        self.learner = learner or TerminalLearner(settings, self.say)  # the terminal's prints above the prompt
        if talk is not None:
            self._talk_to(talk)

    def handle_line(self, line: str) -> bool:
        """Act on one line typed at the prompt; False means 'quit'."""
        line = readable(line)  # bytes that were not UTF-8 arrive as surrogate escapes
        if line.lstrip().startswith("/"):
            return self.command(line.strip())
        self.generate(line if line.strip() else "")  # an empty line: the story just goes on
        return True

    def say(self, message: str) -> None:
        self.out.write(message + "\n")
        self.out.flush()

    def _loaded(self, hint: str = "") -> Generator | None:
        """The model's Generator, waiting (and saying so) while it loads; None, said with `hint`
        after the reason, when no model could be loaded."""
        if not self.slot.ready:
            self.say("(loading the model…)")
        generator = self.slot.wait()
        if generator is None:
            self.say(f"no model loaded ({self.slot.error}){hint}")
        return generator

    # -- generation -------------------------------------------------------------------------

    def generate(self, line: str) -> None:
        """Add `line` to the story and stream its continuation; Ctrl-C stops it and keeps the text."""
        generator = self._loaded("; /model PATH loads one")
        if generator is not None:
            self.story.take_turn(generator, self.asked(line), self.out)

    def asked(self, line: str = "") -> WriteRequest:
        """What the terminal asks for now: `line` written with its settings and random seed."""
        return WriteRequest.by_settings(self.settings, line, rng_seed=self.rng_seed, talk=self.talk)

    def _cmd_retry(self, arg: str) -> None:
        generator = self._loaded()
        if generator is not None and not self.story.retry(generator, self.asked(), self.out):
            self.say("nothing to retry: the last turn is not a continuation (press Enter for one)")

    def _cmd_undo(self, arg: str) -> None:
        self.say(self.story.undo())

    def _cmd_show(self, arg: str) -> None:
        self.say(self.story.show())

    def _cmd_save(self, arg: str) -> None:
        self.say(self.story.save(arg))

    def _cmd_save_over(self, arg: str) -> None:  # /save!
        self.say(self.story.save(arg, overwrite=True))

    def _cmd_new(self, arg: str) -> None:
        self.say(self.story.new())

    def _cmd_talk(self, arg: str) -> None:
        if arg:
            self._talk_to(arg)
            return
        generator = self._loaded()
        if generator is not None:
            self.say(listing(cast_of(generator)))

    def _talk_to(self, name: str) -> None:
        """`/talk NAME`: talk to NAME (off: back to the story); a name that cannot be spoken to is one line."""
        generator = self._loaded()
        if generator is None:
            return
        try:
            self.talk, said = chosen(name, cast_of(generator))
        except DialogueError as exc:
            self.say(f"/talk: {exc}")
            return
        self.say(said)

    # -- commands ---------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        name, _, arg = line[1:].partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("quit", "exit", "q"):
            return False
        if name not in COMMANDS:
            self.say(f"unknown command /{name}; /help lists them")
            return True
        getattr(self, f"_cmd_{name.replace('!', '_over')}")(arg)
        return True

    def _cmd_help(self, arg: str) -> None:
        width = max(len(f"/{n} {a}") for n, (a, _) in COMMANDS.items())
        lines = [f"  {f'/{n} {a}'.ljust(width)}  {text}" for n, (a, text) in COMMANDS.items()]
        self.say("Type a line of the story and press Enter: the book's voice continues it; Enter on an empty "
                 "line lets it go on.\nCtrl-C stops a continuation and keeps what was written.\n" + "\n".join(lines))

    def _set(self, command: str, arg: str, field: str, kind: type) -> None:
        """Parse `arg` as `kind` and store it in setting `field`; a bad value changes nothing."""
        if not arg:
            self.say(f"{field.replace('_', ' ')} is {getattr(self.settings, field)}")
            return
        try:
            value = kind(arg)
        except ValueError:
            self.say(f"/{command} {arg}: must be {'a whole number' if kind is int else 'a number'}")
            return
        try:
            self.settings = self.settings.with_overrides(**{field: value})
        except SettingsError as exc:
            self.say(f"/{command} {arg}: {exc.rule}")
            return
        self.say(f"{field.replace('_', ' ')} = {value}")

    def _cmd_temp(self, arg: str) -> None:
        self._set("temp", arg, "temperature", float)
        if self.settings.temperature > 0:
            self._warm_temperature = self.settings.temperature

    def _cmd_len(self, arg: str) -> None:
        self._set("len", arg, "length", int)

    def _cmd_topk(self, arg: str) -> None:
        self._set("topk", arg, "top_k", int)

    def _cmd_topp(self, arg: str) -> None:
        self._set("topp", arg, "top_p", float)

    def _cmd_exact(self, arg: str) -> None:
        if arg.lower() not in ("on", "off"):
            shown = "on" if self.settings.exact else "off"
            self.say(f"/exact {arg}: must be on or off" if arg else f"exact is {shown}")
            return
        self.settings = self.settings.with_overrides(exact=arg.lower() == "on")
        self.say(f"exact {arg.lower()}" + ("" if self.settings.exact else
                                           " (a continuation ends at a sentence end near /len)"))

    def _cmd_greedy(self, arg: str) -> None:
        if arg.lower() not in ("on", "off"):
            self.say(f"/greedy {arg}: must be on or off" if arg else
                     f"greedy is {'on' if self.settings.temperature == 0 else 'off'}")
            return
        temperature = 0.0 if arg.lower() == "on" else self._warm_temperature
        self.settings = self.settings.with_overrides(temperature=temperature)
        self.say(f"greedy {arg.lower()} (temperature {temperature})")

    def _cmd_seed(self, arg: str) -> None:
        if arg.lower() in ("off", "random", "none"):
            self.rng_seed = None
        elif arg.lstrip("-").isdigit():
            self.rng_seed = int(arg)
        else:
            self.say(f"random seed is {self.rng_seed if self.rng_seed is not None else 'off'}" if not arg
                     else f"/seed {arg}: must be a whole number or off")
            return
        self.say(f"random seed = {self.rng_seed if self.rng_seed is not None else 'off'}")

    def _cmd_words(self, arg: str) -> None:
        if not arg:
            self.say(f"words are {self.settings.words}")
            return
        try:
            self.settings = self.settings.with_overrides(words=arg.lower())
        except SettingsError as exc:
            self.say(f"/words {arg}: {exc.rule}")
            return
        self.say(f"words = {self.settings.words}")

    def _cmd_case(self, arg: str) -> None:
        if not arg:
            self.say(f"case is {self.settings.case}")
            return
        try:
            self.settings = self.settings.with_overrides(case=arg.lower())
        except SettingsError as exc:
            self.say(f"/case {arg}: {exc.rule}")
            return
        self.say(f"case = {self.settings.case}")

    def _cmd_best(self, arg: str) -> None:
        if not arg:
            self.say(f"best of {self.settings.best_of}")
            return
        try:
            self.settings = self.settings.with_overrides(best_of=int(arg))
        except (ValueError, SettingsError) as exc:
            rule = exc.rule if isinstance(exc, SettingsError) else BEST_OF_RULE
            self.say(f"/best {arg}: {rule}")
            return
        self.say(f"best of {self.settings.best_of}" + (" (plain sampling)" if self.settings.best_of == 1 else ""))

    def _cmd_model(self, arg: str) -> None:
        if not arg:
            self.say("/model needs the path of a model folder")
            return
        path = self.learner.resolve(unquoted(arg))  # a folder, or a model's name in the models folder
        if not self.slot.ready:
            self.say("(waiting for the first model to finish loading…)")
        try:
            generator = self.slot.replace(path)
        except ModelLoadError as exc:
            self.say(f"could not load {path}: {exc}")
            return
        self.say(f"loaded {generator.loaded.name} from {generator.loaded.path}")

    def _cmd_learn(self, arg: str) -> None:
        self.say(self.learner.command(arg))

    def _cmd_info(self, arg: str) -> None:
        generator = self._loaded()
        if generator is not None:
            self.say(describe_model(generator.loaded) + f"\n  {'words'.ljust(16)}{self.settings.words} (/words)"
                     + f"\n  {'best of'.ljust(16)}{self.settings.best_of} (/best)"
                     + f"\n  {'case'.ljust(16)}{self.settings.case} (/case)" + describe_precision(generator))

    # -- toolbar ----------------------------------------------------------------------------

    def toolbar(self) -> str:
        s = self.settings
        parts = [
            f"model {self.slot.status}",
            f"story {len(self.story):,} chars",
            f"len {s.length}{'' if s.exact else ' (about)'}",
            "greedy" if s.temperature == 0 else f"temp {s.temperature:g}",
            f"top-k {s.top_k or 'off'}",
            f"top-p {s.top_p:g}",
            f"words {s.words}",
            f"best of {s.best_of}",
            f"case {s.case}",
            f"seed {self.rng_seed if self.rng_seed is not None else 'random'}",
            "/help",
        ]
        if self.talk:
            parts.insert(0, f"talking to {self.talk}")
        if learning := self.learner.toolbar():
            parts.insert(-1, learning)
        return " " + " │ ".join(parts)
