"""The real bot against the fake Discord: `run_with_bot(scenario)` starts both, `running_bot` logs
the bot in, RecordingGenerator records what the model was asked and wrote."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import torch
from discord_wire import TOKEN
from fake_discord import FakeDiscord

from engine.steps.build import unavailable

# auto measures the precisions at every load (~0.6 s a bot, and these tests start ~70 bots); they are
# not about it (tests/test_precision*.py are): int8 where this machine has its kernels, else fp32
PRECISION = "int8" if unavailable("int8", torch.device("cpu")) is None else "fp32"


class RecordingGenerator:
    """Wraps a Generator: records every request and the text it produced; `delay` seconds per
    character make a short generation span several edit intervals."""

    def __init__(self, inner: Any, delay: float = 0.0) -> None:
        self.inner, self.delay = inner, delay
        self.requests: list[dict] = []
        self.outputs: list[str] = []

    @property
    def loaded(self) -> Any:
        return self.inner.loaded

    @property
    def active_streams(self) -> int:
        return self.inner.active_streams

    async def astream(self, seed: Any = "", length: int = 400, **kwargs: Any):
        # a story (engine.Conversation) is recorded as its text too
        self.requests.append({"seed": getattr(seed, "text", seed), "story": seed, "length": length, **kwargs})
        index = len(self.outputs)
        self.outputs.append("")
        async for chunk in self.inner.astream(seed, length, **kwargs):
            for char in chunk:  # the engine hands over what is ready: paced here one by one
                self.outputs[index] += char
                if self.delay:
                    await asyncio.sleep(self.delay)
                yield char

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


@asynccontextmanager
async def running_bot(fake: FakeDiscord, delay: float = 0.0, **settings: Any) -> AsyncIterator[Any]:
    """The real AliceBot, logged in to `fake` and ready; its generators wrapped in
    RecordingGenerator. Settings default to fast ones (short replies, quick edits, no cooldown)."""
    from bot.discord_app.alice_bot import discord_endpoints, find_models, make_bot
    from bot.settings import Settings

    defaults = {"discord_token": TOKEN, "discord_api_base": fake.api_base, "discord_gateway_url": fake.gateway_url,
                "device": "cpu", "length": 60, "edit_interval": 0.2, "cooldown": 0.0, "precision": PRECISION}
    config = Settings(**{**defaults, **settings})
    bot = make_bot(config, find_models(config))

    async def no_identify_wait(shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s between shards' IDENTIFYs to respect Discord's limit

    bot.before_identify_hook = no_identify_wait
    bot._connection.guild_ready_timeout = 0.05  # discord.py waits this long after the last GUILD_CREATE
    with discord_endpoints(config.discord_api_base, config.discord_gateway_url):
        task = asyncio.create_task(bot.start(TOKEN))
        ready = asyncio.create_task(bot.wait_until_ready())
        try:
            await asyncio.wait([task, ready], timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # startup failed: raise its error here
            assert ready.done(), "the bot did not become ready"
            for name, generator in bot.generators.items():
                bot.generators[name] = RecordingGenerator(generator, delay)
            yield bot
        finally:
            ready.cancel()
            await bot.close()
            await asyncio.wait_for(task, 10)


def run_with_bot(scenario: Callable[[FakeDiscord, Any], Any], fake: FakeDiscord | None = None,
                 delay: float = 0.0, **settings: Any) -> None:
    """Start a fake Discord and the bot, run `await scenario(fake, bot)`, stop both."""
    async def main() -> None:
        server = await (fake or FakeDiscord()).start()
        try:
            async with running_bot(server, delay, **settings) as bot:
                await scenario(server, bot)
        finally:
            await server.stop()

    asyncio.run(main())


def bot_messages(fake: FakeDiscord) -> list[dict]:
    """Messages the bot created (channel messages and interaction responses), oldest first."""
    return list(fake.messages.values())


async def finished_reply(fake: FakeDiscord, index: int = 0, cursor: str = "\u258c") -> dict:
    """The bot's `index`-th message once its streaming has ended (no cursor left)."""
    return await fake.wait_until(lambda: len(fake.messages) > index and cursor not in
                                 bot_messages(fake)[index]["content"] and bot_messages(fake)[index])
