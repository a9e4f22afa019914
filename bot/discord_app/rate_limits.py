"""Who may start a generation now: a per-user cooldown and a cap on generations at once per server.

Commands and button presses pass the same gate; its refusals are answered in the same words.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator

from discord.ext import commands

REFUSALS = (commands.CommandOnCooldown, commands.MaxConcurrencyReached)  # what `slot` raises


class Gate:
    """Per-user cooldown and a cap on generations running at once per server."""

    def __init__(self, cooldown: float, per_server: int) -> None:
        self.cooldown, self.per_server = cooldown, per_server
        self.last_start: dict[int, float] = {}
        self.running: Counter[int] = Counter()

    @contextlib.contextmanager
    def slot(self, user: int, server: int) -> Iterator[None]:
        """Hold a generation slot; raises MaxConcurrencyReached or CommandOnCooldown instead."""
        if self.running[server] >= self.per_server:  # checked first: a refusal costs no cooldown
            raise commands.MaxConcurrencyReached(self.per_server, commands.BucketType.guild)
        now = time.monotonic()
        wait = self.last_start.get(user, -self.cooldown) + self.cooldown - now
        if wait > 0:
            raise commands.CommandOnCooldown(commands.Cooldown(1, self.cooldown), wait, commands.BucketType.user)
        if len(self.last_start) > 10_000:  # forget users whose cooldown is long over
            self.last_start = {u: t for u, t in self.last_start.items() if now - t < self.cooldown}
        self.last_start[user] = now
        self.running[server] += 1
        try:
            yield
        finally:
            self.running[server] -= 1

    @staticmethod
    def refusal(error: commands.CommandOnCooldown | commands.MaxConcurrencyReached) -> str:
        """The answer to a request the cooldown or the per-server cap turned away."""
        if isinstance(error, commands.CommandOnCooldown):
            return f"Please wait {error.retry_after:.0f} s before asking me again."
        return f"I am already writing {error.number} replies in this server; please ask again in a moment."
