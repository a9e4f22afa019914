"""The buttons under alice's replies: Continue and Again once a reply is written, Stop while it is.

They outlive the bot process: each button's custom_id says what it does, which model wrote the
reply and, under a character's answer, who speaks (`alice:continue:holmes`, `alice:again:alice:the
Hatter`: Continue and a reply to it go on with that character), and one `DynamicItem` class,
registered in `setup_hook`, answers every button that matches it, on any message, however old. What
a press needs beyond that (the story so far) is read back out of the messages
(bot/discord_app/reply_chain.py).
"""

from __future__ import annotations

import re
from typing import Protocol

import discord

from engine.dialogue import MAX_NAME

ACTIONS = {  # action: (label, style)
    "continue": ("Continue", discord.ButtonStyle.primary),  # the same story goes on in a new reply
    "again": ("Again", discord.ButtonStyle.secondary),  # this reply is written anew from the same seed
    "stop": ("Stop", discord.ButtonStyle.danger),  # stop writing (only the person who asked for the reply)
}
# model: a command name; talk: a character's name (MAX_NAME keeps the id within Discord's 100)
TEMPLATE = rf"alice:(?P<action>continue|again|stop):(?P<model>[a-z0-9_-]{{1,32}})(?::(?P<talk>[^\n]{{1,{MAX_NAME}}}))?"


class Presses(Protocol):
    """What answers the buttons (bot/discord_app/story_teller.py's Teller)."""

    async def press(self, interaction: discord.Interaction, action: str, model: str, talk: str | None) -> None: ...


class StoryButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):
    """One of the buttons. Only `StoryButtons` makes its classes: one per bot, whose presses go to
    that bot's Teller."""

    def __init__(self, action: str, model: str, talk: str | None = None) -> None:
        label, style = ACTIONS[action]
        custom_id = f"alice:{action}:{model}" + (f":{talk}" if talk else "")
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
        self.action, self.model, self.talk = action, model, talk

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> StoryButton:
        return cls(match["action"], match["model"], match["talk"])


class StoryButtons:
    """The buttons a bot puts under its replies, answered by `presses` (its Teller). `item` is the class
    setup_hook registers; the views are made of it too (discord.py answers a template with the class
    it last saw sent, so every button sent must be of the answering class)."""

    def __init__(self, presses: Presses) -> None:
        class AnsweredStoryButton(StoryButton, template=TEMPLATE):
            async def callback(self, interaction: discord.Interaction) -> None:
                await presses.press(interaction, self.action, self.model, self.talk)

        self.item: type[StoryButton] = AnsweredStoryButton

    def view(self, model: str, talk: str | None, *actions: str) -> discord.ui.View:
        """A persistent view (no timeout) holding the buttons for `actions` (under `talk`'s answer, if any)."""
        view = discord.ui.View(timeout=None)
        for action in actions:
            view.add_item(self.item(action, model, talk))
        return view

    def finished(self, model: str, talk: str | None = None) -> discord.ui.View:
        return self.view(model, talk, "continue", "again")

    def writing(self, model: str, talk: str | None = None) -> discord.ui.View:
        return self.view(model, talk, "stop")


def _button_id(message: discord.Message) -> re.Match[str] | None:
    """The custom_id of the first of the bot's buttons under `message`, parsed (None: it has none)."""
    for row in message.components:
        for child in getattr(row, "children", [row]):
            match = re.fullmatch(TEMPLATE, getattr(child, "custom_id", None) or "")
            if match:
                return match
    return None


def model_of(message: discord.Message) -> str | None:
    """The model that wrote one of the bot's replies, from its buttons (None: it has none)."""
    match = _button_id(message)
    return match["model"] if match else None


def talk_of(message: discord.Message) -> str | None:
    """The character whose answer one of the bot's replies is, from its buttons (None: a story reply)."""
    match = _button_id(message)
    return match["talk"] if match else None
