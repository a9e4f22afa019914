"""What a Discord command asks for: `--temp X --len N --words W --best K <seed>` (or the slash
command's options) read, checked against Discord's own bounds, and made a WriteRequest."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from discord.ext import commands

from bot.discord_app.channel_output import echo
from bot.write_request import WriteRequest
from engine.bestof import BEST_OF_RULE, MAX_BEST_OF, best_of_allowed
from engine.sampling_settings import CASES, WORDS
from engine.sampling_settings import RULES as SAMPLING_RULES

MAX_USER_TEMPERATURE = 2.0
# `--temp 0.5`, `--len=400`, `--words free`; phones often turn `--` into an em dash, so that counts too
_TALK = re.compile(r"(?:--|\u2014)talk(?:=|\s+)([^:\n]{0,300}):\s*")  # `--talk the Hatter: WORDS`
_OPTION = re.compile(r"(?:--|\u2014)(temp|temperature|len|length|words|best|case)(?:=|\s+)(\S+)(?:\s+|$)")
DESCRIBE = {
    "seed": "text to continue; empty = start a new paragraph",
    "temperature": f"0 = always the likeliest letter, up to {MAX_USER_TEMPERATURE:g} = wild",
    "length": "how many characters to write",
    "words": "lexicon = only words the book (and the library) use; free = any spelling",
    "best": f"write each sentence as the best of this many (1 = plain sampling, up to {MAX_BEST_OF})",
    "case": "book = capitals where the book prints them; lower = all lowercase",
}
TALK = "say the seed to this character of the book, who answers (the seed: your words to them)"
ASK_FORM = "Write `{prefix}ask NAME: WORDS` (or reply to an answer with `{prefix}ask WORDS`)."


class Refused(commands.BadArgument):
    """A request this bot turns away in its own words (people's words in it already `echo`ed)."""


@dataclass
class CommandOptions:
    """What a command asked for: its seed and the options written before it (None: not given)."""

    seed: str
    temperature: float | None = None
    length: int | None = None
    words: str | None = None
    best: int | None = None
    case: str | None = None
    talk: str | None = None  # the character the seed is said to (--talk NAME: WORDS, !ask, /ask)

    def request(self, default: WriteRequest, max_length: int) -> WriteRequest:
        """`default` (the bot's, for this model and asker) with these options; Refused past Discord's bounds."""
        if self.best is not None and not best_of_allowed(self.best):
            raise Refused(f"Best {BEST_OF_RULE}.")
        if self.temperature is not None and not 0 <= self.temperature <= MAX_USER_TEMPERATURE:
            raise Refused(f"Temperature must be between 0 and {MAX_USER_TEMPERATURE:g}.")
        if self.length is not None and not 1 <= self.length <= max_length:
            raise Refused(f"Length must be between 1 and {max_length} characters.")
        request = default.but(seed=self.seed, length=self.length, talk=self.talk)
        given = {"temperature": self.temperature, "words": self.words, "best_of": self.best, "case": self.case}
        return request.but(sampling=replace(request.sampling, **{k: v for k, v in given.items() if v is not None}))


def parse_options(text: str) -> CommandOptions:
    """Split `--temp X --len N --words W --best K seed...` into the seed and the options given."""
    asked = CommandOptions(text.lstrip())
    while match := _TALK.match(asked.seed) or _OPTION.match(asked.seed):
        if match.re is _TALK:
            asked.talk, asked.seed = match[1].strip(), asked.seed[match.end():]
            continue
        name, value = match.groups()
        asked.seed = asked.seed[match.end():]
        if name == "words":
            if value.lower() not in WORDS:
                raise Refused(f"--words {SAMPLING_RULES['words'][1]}, not {echo(value)}.")
            asked.words = value.lower()
            continue
        if name == "case":
            if value.lower() not in CASES:
                raise Refused(f"--case {SAMPLING_RULES['case'][1]}, not {echo(value)}.")
            asked.case = value.lower()
            continue
        try:
            if name.startswith("temp"):
                asked.temperature = float(value)
            elif name == "best":
                asked.best = int(value)
            else:
                asked.length = int(value)
        except ValueError:
            raise Refused(f"--{name} needs a {'number' if name.startswith('temp') else 'whole number'}, "
                          f"not {echo(value)}.") from None
    if re.match(r"(?:--|\u2014)talk\b", asked.seed):
        raise Refused("Write `--talk NAME: WORDS`: the name ends with a colon.")
    return asked


def said_to(asked: CommandOptions, replied: str | None, prefix: str) -> CommandOptions:
    """`!ask NAME: WORDS` (options taken out): the character before the colon; with no colon, the
    character of the answer the command replies to (`replied`); Refused when there is neither."""
    name, colon, words = asked.seed.partition(":")
    if colon:
        return replace(asked, talk=name.strip(), seed=words.strip())
    if replied is None:
        raise Refused(ASK_FORM.format(prefix=prefix))
    return replace(asked, talk=replied)
