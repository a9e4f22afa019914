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
    """One of the buttons. Only `StoryButtons` makes its classes: one per bot, whose presses go to
    that bot's Teller."""

    def __init__(self, action: str, model: str) -> None:
        label, style = ACTIONS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"alice:{action}:{model}"))
        self.action, self.model = action, model

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> StoryButton:
        return cls(match["action"], match["model"])


class StoryButtons:
    """The buttons a bot puts under its replies, answered by `presses` (its Teller). `item` is the class
    setup_hook registers; the views are made of it too (discord.py answers a template with the class
    it last saw sent, so every button sent must be of the answering class)."""

    def __init__(self, presses: Presses) -> None:
        class AnsweredStoryButton(StoryButton, template=TEMPLATE):
            async def callback(self, interaction: discord.Interaction) -> None:
                await presses.press(interaction, self.action, self.model)

        self.item: type[StoryButton] = AnsweredStoryButton

    def view(self, model: str, *actions: str) -> discord.ui.View:
        """A persistent view (no timeout) holding the buttons for `actions`."""
        view = discord.ui.View(timeout=None)
        for action in actions:
            view.add_item(self.item(action, model))
        return view

    def finished(self, model: str) -> discord.ui.View:
        return self.view(model, "continue", "again")

    def writing(self, model: str) -> discord.ui.View:
        return self.view(model, "stop")


def model_of(message: discord.Message) -> str | None:
    """The model that wrote one of the bot's replies, from its buttons (None: it has none)."""
    for row in message.components:
        for child in getattr(row, "children", [row]):
            match = re.fullmatch(TEMPLATE, getattr(child, "custom_id", None) or "")
            if match:
                return match["model"]
    return None
