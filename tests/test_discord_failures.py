"""A streaming reply when Discord fails: the text (or a note) always replaces the cursor, and the
bot goes on serving. The real discord.py client against a fake Discord told to fail routes."""

from __future__ import annotations

import asyncio
import logging

import pytest
from discord_harness import bot_messages, finished_reply, run_with_bot
from discord_wire import DROP, MESSAGE_ROUTE, TOKEN
from fake_discord import FakeDiscord

from bot.discord_app.streaming_reply import CURSOR, STOPPED, STOPPED_WRITING, render

TYPING_ROUTE = r"POST /channels/\d+/typing"


def reply_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Errors the reply logged (and no record may hold the bot's token)."""
    assert not any(TOKEN in record.getMessage() for record in caplog.records), "the token was logged"
    return [r for r in caplog.records if r.name == "bot.discord_app.streaming_reply" and r.levelno >= logging.ERROR]


async def answers_normally(fake: FakeDiscord, bot, index: int) -> None:
    """The next !alice gets its whole text in one reply, as if nothing had happened."""
    await fake.say("!alice --len 20 and then")
    reply = await finished_reply(fake, index=index)
    assert reply["content"] == render("and then", bot.generators["alice"].outputs[-1], done=True)


@pytest.mark.parametrize("status", [500, 403])  # a hiccup discord.py retries; no permission to type
def test_a_failing_typing_indicator_never_stops_the_text(status: int) -> None:
    fake = FakeDiscord()
    fake.fail(TYPING_ROUTE, *[status] * 20)

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 60 the queen said")
        reply = await finished_reply(fake)
        assert reply["content"] == render("the queen said", bot.generators["alice"].outputs[0], done=True)
        assert [c.status for c in fake.requests("POST", r"/channels/\d+/typing")][:1] == [status]
        assert len(fake.posts()) == 1, "no error answer: typing is decoration"

    run_with_bot(scenario, fake=fake)


def test_failed_middle_edits_never_stop_the_text() -> None:
    fake = FakeDiscord()
    # only frames with the cursor fail: a 500 (retried by discord.py, whose retry meets the 503),
    # Discord errors discord.py gives up on, and a connection dropped mid-request
    failure = fake.fail(f"PATCH {MESSAGE_ROUTE}", 500, 503, 403, 400, DROP,
                        when=lambda body: body["content"].endswith(CURSOR))

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 200 the queen said")
        reply = await finished_reply(fake)
        assert not failure.answers, "the generation ended before every failure was met"
        assert reply["content"] == render("the queen said", bot.generators["alice"].outputs[0], done=True)
        statuses = [c.status for c in fake.edits(reply["id"], ok_only=False)]
        assert [s for s in statuses if s != 200] == [500, 503, 403, 400, DROP]
        assert statuses[-1] == 200 and len(fake.posts()) == 1  # the reply itself holds the text
        await answers_normally(fake, bot, index=1)

    run_with_bot(scenario, fake=fake, delay=0.02, edit_interval=0.1)


@pytest.mark.parametrize("status", [503, 400])  # Discord down for this message; the text refused
def test_a_refused_final_edit_leaves_a_note_instead_of_the_cursor(
        status: int, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        full = lambda: render("the queen said", bot.generators["alice"].outputs[0], done=True)  # noqa: E731
        fake.fail(f"PATCH {MESSAGE_ROUTE}", *[status] * 50, when=lambda body: body["content"] == full())
        await fake.say("!alice --len 60 the queen said")
        reply = await finished_reply(fake)
        assert reply["content"].endswith(STOPPED), reply["content"]
        shown = reply["content"].removesuffix(STOPPED)
        assert shown.startswith("**the queen said**") and full().startswith(shown)
        assert len(fake.posts()) == 1
        await fake.wait_until(lambda: reply_errors(caplog))  # the bot logs once Discord has answered
        await answers_normally(fake, bot, index=1)

    run_with_bot(scenario, edit_interval=0.1)


@pytest.mark.parametrize("status", [503, DROP])
def test_edits_failing_for_good_end_with_the_text_in_a_new_message(
        status: int, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeDiscord()
    edits = fake.fail(f"PATCH {MESSAGE_ROUTE}", *[status] * 100)

    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 40 the queen said")
        final = await finished_reply(fake, index=1)
        assert final["content"] == render("the queen said", bot.generators["alice"].outputs[0], done=True)
        assert fake.posts()[1].body["allowed_mentions"] == {"parse": []}
        assert all(c.status == status for c in fake.requests("PATCH", MESSAGE_ROUTE))
        await fake.wait_until(lambda: reply_errors(caplog))  # the bot logs once Discord has answered
        edits.answers.clear()  # Discord is back
        await answers_normally(fake, bot, index=2)
        assert CURSOR not in bot_messages(fake)[2]["content"]

    run_with_bot(scenario, fake=fake, edit_interval=0.1)


@pytest.mark.parametrize("how", ["!alice", "/alice"])
def test_a_reply_deleted_while_it_is_written_ends_its_generation_and_is_not_posted_again(
        how: str, caplog: pytest.LogCaptureFixture) -> None:
    """A moderator deletes the reply mid-stream: the next edit meets 404 Unknown Message, the
    generation stops there, and nothing (no final text, no new message) undoes the deletion."""
    async def scenario(fake: FakeDiscord, bot) -> None:
        if how == "!alice":
            await fake.say("!alice --len 300 the queen said")
        else:
            await fake.slash("alice", {"seed": "the queen said", "length": 300})
        reply = await fake.wait_until(lambda: fake.messages and len(bot.generators["alice"].outputs[0]) > 10
                                      and next(iter(fake.messages.values())))
        assert fake.delete(reply["id"])
        sent = len(fake.bodies())
        gone = lambda: [r for r in caplog.records if "was deleted while it was being written" in r.getMessage()]  # noqa: E731
        await fake.wait_until(lambda: gone() or len(fake.bodies()) > sent + 1 and fake.messages)
        assert gone(), f"the reply came back: {list(fake.messages.values())}"
        await asyncio.sleep(0.5)  # time enough to post what it would post
        assert not fake.messages and len(fake.bodies()) == sent + 1  # one edit met the 404; nothing after it
        assert len(bot.generators["alice"].outputs[0]) < 300  # the generation ended early
        assert not reply_errors(caplog)
        await answers_normally(fake, bot, index=0)

    run_with_bot(scenario, delay=0.02, edit_interval=0.1, max_length=300)


def test_a_failed_generation_ends_with_a_note_and_an_apology() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        # the engine stops (closed while streaming in real life; closed before, to leave no race)
        bot.generators["alice"].inner.close()
        await fake.say("!alice --len 300 the queen said")
        reply = await finished_reply(fake)
        assert reply["content"] == "**the queen said**" + STOPPED_WRITING
        answer = await fake.wait_until(lambda: fake.posts()[1:])
        assert answer[0].body["content"].startswith("Sorry, something went wrong")

    run_with_bot(scenario)
