"""The streaming reply of `!alice`, against the real discord.py client and a fake Discord."""

from __future__ import annotations

import asyncio

from discord_harness import finished_reply, run_with_bot
from discord_wire import CHANNEL_ID, MESSAGE_ROUTE, rate_limited
from fake_discord import FakeDiscord

from bot.discord_app.streaming_reply import CURSOR, MESSAGE_LIMIT, render

NOBODY = {"parse": []}


def test_reply_streams_seed_then_continuation() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        user_message = await fake.say("!alice --len 60 Alice was")
        first = await fake.wait_until(fake.posts)
        assert first[0].body["content"] == "**Alice was**" + CURSOR  # at once, before any text
        assert first[0].body["message_reference"]["message_id"] == int(user_message)
        reply = await finished_reply(fake)
        generated = bot.generators["alice"].outputs[0]
        assert len(generated) == 60
        assert reply["content"] == render("Alice was", generated, done=True)
        assert reply["content"].startswith("**Alice was**")
        for edit in fake.edits(reply["id"])[:-1]:  # every frame shows a prefix of the final text
            shown = edit.body["content"].removesuffix(CURSOR)
            assert edit.body["content"].endswith(CURSOR) and reply["content"].startswith(shown)
        assert fake.requests("POST", rf"/channels/{CHANNEL_ID}/typing"), "no typing indicator"

    run_with_bot(scenario, exact=True)


def test_edits_respect_the_throttle() -> None:
    interval = 0.3

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 150 The Queen")
        reply = await finished_reply(fake)
        times = [fake.posts()[0].at] + [edit.at for edit in fake.edits(reply["id"])]
        assert len(times) >= 4, "expected several edits while the text streamed"
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        assert min(gaps) >= interval - 0.02, gaps
        assert reply["content"] == render("The Queen", bot.generators["alice"].outputs[0], done=True)

    run_with_bot(scenario, delay=0.01, edit_interval=interval)


def test_rate_limited_edits_slow_down_and_keep_the_final_text() -> None:
    interval = 0.2
    fake = FakeDiscord()
    # two 429s discord.py waits out, then one it gives up on at once (no Via header)
    fake.fail(f"PATCH {MESSAGE_ROUTE}", lambda: rate_limited(0.3), lambda: rate_limited(0.3),
              lambda: rate_limited(0.3, via=False))

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 300 Off with")  # paced at 0.01 s a character: edits for 3 s or more
        reply = await finished_reply(fake)
        assert reply["content"] == render("Off with", bot.generators["alice"].outputs[0], done=True)
        attempts = fake.edits(reply["id"], ok_only=False)
        assert [c.status for c in attempts[:3]] == [429, 429, 429]
        after = [c.at for c in attempts[3:]]
        assert len(after) >= 2
        gaps = [later - earlier for earlier, later in zip(after, after[1:], strict=False)]
        assert min(gaps) >= 2 * interval - 0.02, f"edits did not slow down after 429s: {gaps}"

    run_with_bot(scenario, fake=fake, delay=0.01, edit_interval=interval)


def test_a_reply_no_longer_ours_to_edit_gets_its_final_text_as_a_new_message() -> None:
    """(A reply someone deleted is not posted again: see test_discord_failures.)"""
    fake = FakeDiscord()
    fake.fail(f"PATCH {MESSAGE_ROUTE}", *[403] * 50)  # Missing Permissions

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 40 Curiouser")
        final = await finished_reply(fake, index=1)
        assert final["content"] == render("Curiouser", bot.generators["alice"].outputs[0], done=True)
        assert final["content"] == fake.posts()[1].body["content"]
        assert fake.posts()[1].body["allowed_mentions"] == NOBODY

    run_with_bot(scenario, fake=fake)


def test_every_message_pings_no_one_and_markdown_stays_inert() -> None:
    seed = "@everyone @here <@&1100000000000000030> <@1100000000000000021> **bold** `tick` ||spoil||"

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say(f"!alice --len 20 {seed}")
        reply = await finished_reply(fake)
        await fake.say("!alice --len nope @everyone")  # the error answer is a message too
        await fake.wait_until(lambda: len(fake.posts()) >= 2)
        bodies = fake.bodies()
        assert len(bodies) >= 3  # the reply, its final edit, the error answer
        assert all(body["allowed_mentions"]["parse"] == [] for body in bodies), bodies
        pings = ("users", "roles", "replied_user")
        assert not any(body["allowed_mentions"].get(key) for body in bodies for key in pings)
        content = reply["content"]
        for raw in ("@everyone", "@here", "<@&", "<@1"):
            assert raw not in content
        assert "@\u200beveryone" in content  # shown, but inert
        assert content.startswith("**") and "\\*\\*bold\\*\\*" in content and "\\`tick\\`" in content
        assert content.index("\\|\\|spoil\\|\\|**") > 0  # the seed's own bold closes where it should

    run_with_bot(scenario)


def test_messages_from_bots_are_ignored() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 10 hello", author_id=1100000000000000022, bot=True)
        await asyncio.sleep(0.5)
        assert fake.posts() == [] and bot.generators["alice"].requests == []
        await fake.say("!alice --len 10 hello")  # a person still gets an answer
        await finished_reply(fake)

    run_with_bot(scenario)


def test_empty_seed_starts_a_new_paragraph() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice")
        reply = await finished_reply(fake)
        generator = bot.generators["alice"]
        assert generator.requests[0]["seed"] == "" and generator.requests[0]["length"] == 40
        assert reply["content"] == render("", generator.outputs[0], done=True)
        assert not reply["content"].startswith("**")

    run_with_bot(scenario, length=40)


def test_long_seed_and_length_stay_within_one_message() -> None:
    seed = "~*" * 1500 + " and the mock turtle sighed"  # shown by its tail; escaping doubles it

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say(f"!alice --len 1500 {seed}")
        reply = await finished_reply(fake)
        request, output = bot.generators["alice"].requests[0], bot.generators["alice"].outputs[0]
        assert request["seed"] == seed  # the model reads all of it
        assert 1000 < request["length"] < 1500  # capped so that seed and text fit one message
        assert reply["content"] == render(seed, output, done=True)
        assert reply["content"].startswith("**\u2026\\*\\~") and len(reply["content"]) <= MESSAGE_LIMIT
        assert all(len(body.get("content", "")) <= MESSAGE_LIMIT for body in fake.bodies())

    run_with_bot(scenario, max_length=1500, edit_interval=0.5)


def test_render_escapes_and_truncates() -> None:
    assert render("a*b", "_c_ @here", done=True) == "**a\\*b**\\_c\\_ @\u200bhere"
    assert render("seed", "", done=False) == "**seed**" + CURSOR
    assert len(render("x", "*" * 3000, done=True)) == MESSAGE_LIMIT  # escaping doubled it: cut
    assert render("", "", done=True).strip()  # never empty content
