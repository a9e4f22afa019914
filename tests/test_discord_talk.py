"""Talking to a character on Discord: `!ask NAME: WORDS`, `/ask` (its character option autocompleted
from the book's characters), `!alice --talk NAME: WORDS`; replies to an answer (`!ask WORDS`, a
mention, Continue, Again) go on with the same character in the same story; bad turns are one line,
names and words shown escaped, nobody pinged. The real discord.py client against tests/fake_discord.py."""

from __future__ import annotations

from discord_harness import run_with_bot
from discord_wire import BOT_ID
from fake_discord import FakeDiscord
from test_discord_stories import AGAIN, CONTINUE, assert_nobody_pinged, callbacks, finished, reply_to

from bot.discord_app.streaming_reply import parse_reply

FAST = {"best_of": 2}  # these tests are about the turns, not best-of


async def said(fake: FakeDiscord, count: int) -> list[str]:
    """The contents of the bot's messages that answer nothing with buttons (its one-line refusals)."""
    lines = await fake.wait_until(lambda: [m["content"] for m in fake.messages.values()
                                           if not m.get("components")][:count] if len(
        [m for m in fake.messages.values() if not m.get("components")]) >= count else None)
    return lines


def test_ask_answers_in_the_characters_voice_and_replies_go_on_with_them() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        recorder = bot.generators["alice"]
        asked = await fake.say("!ask hatter: Who are you?")
        first = await reply_to(fake, asked)
        reply = await finished(fake, first)
        seed, text = parse_reply(reply["content"])
        assert seed == "\u201cWho are you?\u201d said Alice."
        assert text.startswith("\n\nThe Hatter said, \u201c") and text.endswith("\u201d")
        assert recorder.requests[0]["seed"] == "\n\n\u201cWho are you?\u201d said Alice.\n\nThe Hatter said, \u201c"

        again = await fake.say("!ask And then?", reply_to=first)  # no name: the same character
        second = await finished(fake, await reply_to(fake, again))
        assert parse_reply(second["content"])[1].startswith("\n\nThe Hatter said, \u201c")
        opening = "\n\nThe Hatter said, \u201c"
        assert recorder.requests[1]["seed"].startswith(recorder.requests[0]["seed"] + text[len(opening):])
        assert recorder.requests[1]["seed"].endswith("\u201cAnd then?\u201d said Alice.\n\nThe Hatter said, \u201c")

        mentioned = await fake.say(f"<@{BOT_ID}> Why?", reply_to=second["id"], ping=True)
        third = await finished(fake, await reply_to(fake, mentioned))
        assert parse_reply(third["content"])[0] == "\u201cWhy?\u201d said Alice."
        assert "\u201cAnd then?\u201d said Alice." in recorder.requests[2]["seed"]

        await fake.press(third["id"], CONTINUE)
        fourth = await finished(fake, await reply_to(fake, third["id"]))
        assert parse_reply(fourth["content"])[1].startswith("\n\nThe Hatter said, \u201c")
        assert recorder.requests[3]["seed"].endswith("\u201d\n\nThe Hatter said, \u201c")  # the Hatter goes on

        await fake.press(third["id"], AGAIN)
        await fake.wait_until(lambda: len(recorder.requests) == 5)
        assert recorder.requests[4]["seed"] == recorder.requests[2]["seed"]  # the same line, answered anew
        assert parse_reply((await finished(fake, third["id"]))["content"])[0] == "\u201cWhy?\u201d said Alice."
        assert_nobody_pinged(fake)

    # a short window: the stories are read back from the messages only so far, and Again must read
    # as far back as the first answer did (the answer it replaces not counted)
    run_with_bot(scenario, **FAST, max_seed_chars=60)


def test_slash_ask_autocompletes_the_books_characters_and_answers() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.autocomplete("ask", {"character": "hat", "words": ""}, "character")
        choices = (await fake.wait_until(lambda: [c for c in callbacks(fake) if c["type"] == 8]))[0]["data"]["choices"]
        assert {"name": "the Hatter", "value": "the Hatter"} in choices and len(choices) <= 25
        await fake.slash("ask", {"character": "the Queen", "words": "Off with whose head?"})
        message = await fake.wait_until(lambda: next((m for m in fake.messages.values() if m.get("components")), None))
        reply = await finished(fake, message["id"])
        assert parse_reply(reply["content"])[1].startswith("\n\nThe Queen said, \u201c")
        assert_nobody_pinged(fake)

    run_with_bot(scenario, **FAST)


def test_bad_turns_are_one_line_escaped_and_nobody_is_pinged() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        recorder = bot.generators["alice"]
        for bad in ["!ask hatter:", "!ask : hello", "!ask " + "x" * 200 + ": hi", f"!ask <@{BOT_ID}> **x**: hi",
                    "!ask hatter: " + "y" * 5000, "!ask no colon here", "!alice --talk watson hello"]:
            await fake.say(bad[:4000])
        lines = await said(fake, 7)
        assert all("\n" not in line for line in lines), lines
        assert "question is empty" in lines[0] and "name is empty" in lines[1] and "at most 60" in lines[2]
        assert "may not hold quotation marks, @" in lines[3] and "<@" not in lines[3]
        assert "say it in at most 2,000" in lines[4] and "NAME: WORDS" in lines[5] and "colon" in lines[6]
        assert recorder.requests == []  # nothing written, nothing lost
        reply = await finished(fake, await reply_to(fake, await fake.say("!alice --talk the Mock Turtle: Why so sad?")))
        assert parse_reply(reply["content"])[1].startswith("\n\nThe Mock Turtle said, \u201c")
        assert_nobody_pinged(fake)

    run_with_bot(scenario, **FAST)
