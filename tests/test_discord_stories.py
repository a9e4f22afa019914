"""Stories on Discord: the buttons under replies (Continue, Again, Stop) pressed as real component
interactions, stories continued by replying, buttons that still work after a restart, and nobody
pinged by any of it. The real discord.py client against the fake Discord in tests/fake_discord.py."""

from __future__ import annotations

import asyncio

from discord_harness import run_with_bot, running_bot
from discord_wire import BOT_ID, CHANNEL_ID, OTHER_USER_ID, USER_ID
from fake_discord import FakeDiscord

from bot.discord_app.story_teller import NOT_YOURS
from bot.discord_app.streaming_reply import CURSOR, MESSAGE_LIMIT, parse_reply, render, room_for_text
from engine.endings import longest

CONTINUE, AGAIN, STOP = "alice:continue:alice", "alice:again:alice", "alice:stop:alice"


async def finished(fake: FakeDiscord, message_id: str, model: str = "alice") -> dict:
    """The bot's message once `model` has written it (no cursor, buttons for what comes next, going on
    with `model`; under an answer they name its character too: `alice:continue:alice:the Hatter`)."""
    def actions() -> list[str]:
        return [":".join(custom_id.split(":")[:3]) for custom_id in fake.buttons(message_id)]
    return await fake.wait_until(lambda: CURSOR not in fake.messages[message_id]["content"]
                                 and actions() == [f"alice:continue:{model}", f"alice:again:{model}"]
                                 and fake.messages[message_id])


async def reply_to(fake: FakeDiscord, message_id: str) -> str:
    """The id of the bot's message that answers message `message_id`."""
    def find() -> str | None:
        return next((m["id"] for m in fake.messages.values()
                     if m.get("message_reference", {}).get("message_id") == message_id), None)
    return await fake.wait_until(find)


def callbacks(fake: FakeDiscord) -> list[dict]:
    return [c.body for c in fake.requests("POST", r"/interactions/\d+/[^/]+/callback")]


def assert_nobody_pinged(fake: FakeDiscord) -> None:
    """Every message the bot sent or edited, interaction answers included, allows no mentions."""
    bodies = [body.get("data") or {} if "type" in body else body for body in fake.bodies()]
    with_text = [body for body in bodies if "content" in body]
    pinging = [body for body in with_text  # a reply may also say replied_user: false
               if {k: v for k, v in body.get("allowed_mentions", {}).items() if v} != {} or
               body["allowed_mentions"].get("parse") != []]
    assert with_text and not pinging, pinging


class Reads:
    """Wraps a Generator's model step: the length of every read (priming) pass."""

    def __init__(self, step) -> None:
        self.step, self.lengths = step, []

    def read(self, ids, state=None):
        self.lengths.append(ids.shape[1])
        return self.step.read(ids, state)

    def __call__(self, ids, state):
        return self.step(ids, state)


def test_continue_and_again_are_real_buttons_and_nobody_is_pinged() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        recorder = bot.generators["alice"]
        engine = recorder.inner
        reads = engine.wrap_step(Reads)
        asked = await fake.say("!alice --len 60 Alice was")
        first = await reply_to(fake, asked)
        assert fake.posts()[0].body["components"][0]["components"][0]["custom_id"] == STOP  # while writing
        reply = await finished(fake, first)
        story = "Alice was" + recorder.outputs[0]
        assert len(recorder.outputs[0]) <= longest(60, exact=False)

        read_before = len(reads.lengths)
        await fake.press(first, CONTINUE)
        second = await reply_to(fake, first)
        assert callbacks(fake)[-1] == {"type": 6}  # acknowledged; the answer is the new reply
        nxt = await finished(fake, second)
        assert recorder.requests[1]["seed"] == story  # the whole story so far, read back out of the reply
        assert all(n <= 1 for n in reads.lengths[read_before:])  # ... and the engine went on from its cached state
        assert nxt["content"] == render("", recorder.outputs[1], done=True)  # quoting nothing
        assert parse_reply(reply["content"]) == ("Alice was", recorder.outputs[0])

        before = len(fake.messages)
        await fake.press(second, AGAIN)
        update = await fake.wait_until(lambda: callbacks(fake)[1:])
        assert update[0]["type"] == 7 and update[0]["data"]["content"] == CURSOR  # rewritten in place
        await fake.wait_until(lambda: len(recorder.outputs) == 3 and CURSOR not in fake.messages[second]["content"])
        again = await finished(fake, second)
        assert recorder.requests[2]["seed"] == story  # from the same story as the reply it replaces
        assert again["content"] == render("", recorder.outputs[2], done=True)
        assert len(fake.messages) == before
        assert_nobody_pinged(fake)

    # plain sampling: a best-of reply cut back mid-sentence keeps no state at its cut, so the next turn
    # re-reads the story's tail (correct, a few ms slower); this test pins the cached path
    run_with_bot(scenario, best_of=1)


def joined(story: str, line: str) -> str:
    """A person's line after the story: a space between, unless the story ends in white space (the
    bot's replies are random here, and one may end in a line break or a space)."""
    return story + ("" if story[-1:].isspace() else " ") + line


def test_a_reply_to_the_bot_continues_its_story() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        recorder = bot.generators["alice"]
        first = await reply_to(fake, await fake.say("!alice --len 40 The Queen"))
        await finished(fake, first)
        added = await fake.say("!alice --len 40 and the hatter", reply_to=first)
        second = await reply_to(fake, added)
        reply = await finished(fake, second)
        assert recorder.requests[1]["seed"] == joined("The Queen" + recorder.outputs[0], "and the hatter")
        assert reply["content"] == render("and the hatter", recorder.outputs[1], done=True)

        mentioned = await fake.say(f"<@{BOT_ID}> the cat grinned", reply_to=second, ping=True)
        third = await reply_to(fake, mentioned)
        await finished(fake, third)
        story = recorder.requests[1]["seed"] + recorder.outputs[1]
        assert recorder.requests[2]["seed"] == joined(story, "the cat grinned")

        await fake.say("how lovely", reply_to=third)  # a reply that does not call the bot
        seed = "the queen said " * 17  # a long seed leaves less room in the message
        long = await reply_to(fake, await fake.say(f"!alice --len 1500 {seed}"))
        await fake.wait_until(lambda: len(recorder.requests) == 4)
        assert recorder.requests[3]["seed"] == seed.strip()  # the reply above was not answered
        target = recorder.requests[3]["length"]  # natural endings may overshoot: the target leaves room
        assert 1000 < target < 1500 and longest(target, exact=False) <= room_for_text(seed.strip()) < MESSAGE_LIMIT
        await fake.press(long, STOP)
        await finished(fake, long)
        assert_nobody_pinged(fake)

    run_with_bot(scenario, max_length=1500)


def test_stop_belongs_to_the_asker_and_buttons_keep_the_cooldown() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        recorder = bot.generators["alice"]
        first = await reply_to(fake, await fake.say("!alice --len 400 Off with"))
        await fake.wait_until(lambda: len(recorder.outputs[0]) > 5)
        await fake.press(first, STOP, author_id=OTHER_USER_ID)
        refusal = (await fake.wait_until(lambda: callbacks(fake)))[0]
        assert refusal["type"] == 4 and refusal["data"]["flags"] & 64 and refusal["data"]["content"] == NOT_YOURS
        assert CURSOR in fake.messages[first]["content"]  # still writing

        await fake.press(first, STOP, author_id=USER_ID)
        stopped = await finished(fake, first)
        assert callbacks(fake)[1] == {"type": 6}
        text = parse_reply(stopped["content"])[1]
        assert 5 < len(text) < 400 and recorder.outputs[0].startswith(text)

        await fake.press(first, AGAIN, author_id=USER_ID)  # within the asker's cooldown
        wait = (await fake.wait_until(lambda: callbacks(fake)[2:]))[0]
        assert wait["data"]["flags"] & 64 and wait["data"]["content"].startswith("Please wait")
        await fake.press(first, CONTINUE, author_id=OTHER_USER_ID)  # someone else may go on at once
        await finished(fake, await reply_to(fake, first))
        assert len(recorder.requests) == 2
        assert_nobody_pinged(fake)

    run_with_bot(scenario, delay=0.02, cooldown=30.0)


def test_buttons_keep_working_after_a_restart() -> None:
    async def main() -> None:
        fake = await FakeDiscord().start()
        try:
            async with running_bot(fake, length=40) as bot:
                first = await reply_to(fake, await fake.say("!alice The Mock Turtle"))
                await finished(fake, first)
                story = "The Mock Turtle" + bot.generators["alice"].outputs[0]
            # a reply the old process was writing when it stopped: cursor and Stop still showing
            stale = fake._message(str(CHANNEL_ID), {"content": "**x** half a sent" + CURSOR, "components": [
                {"type": 1, "components": [{"type": 2, "style": 4, "label": "Stop", "custom_id": STOP}]}]})["id"]
            async with running_bot(fake, length=40) as bot:  # a new client: nothing in memory
                await fake.press(first, CONTINUE)
                second = await reply_to(fake, first)
                await finished(fake, second)
                assert bot.generators["alice"].requests[0]["seed"] == story
                await fake.press(stale, STOP, author_id=OTHER_USER_ID)
                ended = await finished(fake, stale)  # ended as it stands, with the buttons that follow
                assert ended["content"] == render("x", " half a sent", done=True)
        finally:
            await fake.stop()

    asyncio.run(main())
