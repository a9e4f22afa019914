"""The buttons under alice's replies: Continue and Again once a reply is written, Stop while it is.

They outlive the bot process: each button's custom_id says what it does and which model wrote the
reply (`alice:continue:holmes`), and one `DynamicItem` class, registered in `setup_hook`, answers
every button that matches it, on any message, however old. What a press needs beyond that (the
story so far) is read back out of the messages (bot/discord_app/reply_chain.py).
"""

from __future__ import annotations

import re
from typing import Protocol

import discord

ACTIONS = {  # action: (label, style)
    "continue": ("Continue", discord.ButtonStyle.primary),  # the same story goes on in a new reply
    "again": ("Again", discord.ButtonStyle.secondary),  # this reply is written anew from the same seed
    "stop": ("Stop", discord.ButtonStyle.danger),  # stop writing (only the person who asked for the reply)
}
TEMPLATE = r"alice:(?P<action>continue|again|stop):(?P<model>[a-z0-9_-]{1,32})"  # model: a command name


class Presses(Protocol):
    """What answers the buttons (bot/discord_app/story_teller.py's Teller)."""

    async def press(self, interaction: discord.Interaction, action: str, model: str) -> None: ...


class StoryButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):
    """One of the buttons; a press goes to the bot's Teller (`press`), which AliceBot sets in its
    setup_hook, before it registers this class."""

    def __init__(self, action: str, model: str) -> None:
        label, style = ACTIONS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"alice:{action}:{model}"))
        self.action, self.model = action, model

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> StoryButton:
        return cls(match["action"], match["model"])

    async def callback(self, interaction: discord.Interaction) -> None:
        teller: Presses | None = getattr(interaction.client, "teller", None)
        if teller is not None:  # None only on a client that is not AliceBot
            await teller.press(interaction, self.action, self.model)


def buttons(model: str, *actions: str) -> discord.ui.View:
    """A persistent view (no timeout) holding the buttons for `actions`."""
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(StoryButton(action, model))
    return view


def finished_view(model: str) -> discord.ui.View:
    return buttons(model, "continue", "again")


def writing_view(model: str) -> discord.ui.View:
    return buttons(model, "stop")


def model_of(message: discord.Message) -> str | None:
    """The model that wrote one of the bot's replies, from its buttons (None: it has none)."""
    for row in message.components:
        for child in getattr(row, "children", [row]):
            match = re.fullmatch(TEMPLATE, getattr(child, "custom_id", None) or "")
            if match:
                return match["model"]
    return None
