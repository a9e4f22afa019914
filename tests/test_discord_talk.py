"""Talking to a character on Discord: `!ask NAME: WORDS`, `/ask` (its character option autocompleted
from the book's characters, its model option from the models served), `!alice --talk NAME: WORDS`,
`/holmes talk:NAME` (autocompleted from holmes's characters); replies to an answer (`!ask WORDS`, a
mention, Continue, Again) go on with the same character in the same story, by the same model; bad
turns are one line, names and words shown escaped, nobody pinged. The real discord.py client against
tests/fake_discord.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from discord_harness import run_with_bot
from discord_wire import BOT_ID
from fake_discord import FakeDiscord
from test_discord_stories import AGAIN, CONTINUE, assert_nobody_pinged, callbacks, finished, reply_to

from bot.discord_app.streaming_reply import parse_reply
from engine import BUNDLED_MODEL

FAST = {"best_of": 2}  # these tests are about the turns, not best-of
ANSWER_END = re.compile("\u201d said (?P<name>[^\u201c\u201d]+)\\.(?: \u201c[^\u201c\u201d]+\u201d)?\\Z")


def answered_by(text: str, character: str) -> bool:
    """Whether `text` ends as `character`'s answer does: `” said the Hatter.`, or with the speech going
    on after the attribution, `” said the Hatter. “...”`."""
    end = ANSWER_END.search(text)
    return end is not None and end["name"] == character


def openings(recorder) -> list[str]:
    """The seeds of the streams that began answers (the engine's `\n\n“`), not of those that went on
    after an attribution (` “`) or of stories."""
    return [request["seed"] for request in recorder.requests if request["seed"].endswith("\n\n\u201c")]


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
        assert text.startswith("\n\n\u201c") and answered_by(text, "the Hatter")
        assert openings(recorder)[0] == "\n\n\u201cWho are you?\u201d said Alice.\n\n\u201c"

        again = await fake.say("!ask And then?", reply_to=first)  # no name: the same character
        second = await finished(fake, await reply_to(fake, again))
        assert answered_by(parse_reply(second["content"])[1], "the Hatter")
        assert openings(recorder)[1].startswith(openings(recorder)[0] + text[len("\n\n\u201c"):])
        assert openings(recorder)[1].endswith("\u201cAnd then?\u201d said Alice.\n\n\u201c")

        mentioned = await fake.say(f"<@{BOT_ID}> Why?", reply_to=second["id"], ping=True)
        third = await finished(fake, await reply_to(fake, mentioned))
        assert parse_reply(third["content"])[0] == "\u201cWhy?\u201d said Alice."
        assert answered_by(parse_reply(third["content"])[1], "the Hatter")
        assert "\u201cAnd then?\u201d said Alice." in openings(recorder)[2]

        hatters = [CONTINUE + ":the Hatter", AGAIN + ":the Hatter"]  # the buttons carry who answered
        assert fake.buttons(third["id"]) == hatters
        await fake.press(third["id"], hatters[0])
        fourth = await finished(fake, await reply_to(fake, third["id"]))
        assert answered_by(parse_reply(fourth["content"])[1], "the Hatter")  # the Hatter goes on
        assert answered_by(openings(recorder)[3].removesuffix("\n\n\u201c"), "the Hatter")

        await fake.press(third["id"], hatters[1])
        await fake.wait_until(lambda: len(openings(recorder)) == 5)
        assert openings(recorder)[4] == openings(recorder)[2]  # the same line, answered anew
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
        assert answered_by(parse_reply(reply["content"])[1], "the Queen")
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
        assert "question is empty" in lines[0] and "name is empty" in lines[1] and "at most 48" in lines[2]
        assert "may not hold quotation marks, @" in lines[3] and "<@" not in lines[3]
        assert "say it in at most 2,000" in lines[4] and "NAME: WORDS" in lines[5] and "colon" in lines[6]
        assert recorder.requests == []  # nothing written, nothing lost
        reply = await finished(fake, await reply_to(fake, await fake.say("!alice --talk the Mock Turtle: Why so sad?")))
        assert answered_by(parse_reply(reply["content"])[1], "the Mock Turtle")
        assert_nobody_pinged(fake)

    run_with_bot(scenario, **FAST)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """holmes: the bundled model's weights with a cast of its own (Holmes, Watson, Lestrade)."""
    holmes = tmp_path_factory.mktemp("models") / "holmes"
    holmes.mkdir()
    for part in BUNDLED_MODEL.iterdir():
        if part.is_file() and part.name != "speakers.json":
            (holmes / part.name).symlink_to(part)
    speakers = [["Holmes", 50], ["Watson", 30], ["Lestrade", 10]]
    (holmes / "speakers.json").write_text(json.dumps({"format": 1, "books": [], "speakers": speakers}))
    return holmes.parent


async def choices(fake: FakeDiscord, command: str, options: dict[str, str], focused: str) -> list[str]:
    """The values /command's autocomplete offers for option `focused`, the others typed as `options`."""
    before = len([c for c in callbacks(fake) if c["type"] == 8])
    await fake.autocomplete(command, options, focused)
    answers = await fake.wait_until(lambda: [c for c in callbacks(fake) if c["type"] == 8][before:])
    return [choice["value"] for choice in answers[0]["data"]["choices"]]


async def slash_reply(fake: FakeDiscord, count: int) -> dict:
    """The `count`-th message with buttons (1: the first), once holmes has written it."""
    message = await fake.wait_until(lambda: ([m for m in fake.messages.values() if m.get("components")]
                                             + [None] * count)[count - 1])
    return await finished(fake, message["id"], "holmes")


def test_model_slash_command_talks_to_its_own_books_characters(models_dir: Path) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        holmes, alice = bot.generators["holmes"], bot.generators["alice"]
        assert await choices(fake, "holmes", {"talk": "wat", "seed": ""}, "talk") == ["Watson"]
        assert await choices(fake, "holmes", {"talk": "hat"}, "talk") == []  # the Hatter is alice's
        assert await choices(fake, "holmes", {"talk": ""}, "talk") == ["Holmes", "Watson", "Lestrade"]
        await fake.slash("holmes", {"talk": "watson", "seed": "Who are you?"})
        reply = await slash_reply(fake, 1)
        seed, text = parse_reply(reply["content"])
        assert seed == "\u201cWho are you?\u201d said Holmes." and answered_by(text, "Watson")
        assert openings(holmes)[0] == "\n\n\u201cWho are you?\u201d said Holmes.\n\n\u201c"
        await fake.slash("holmes", {"seed": "It was"})  # no talk: a story, as before
        assert parse_reply((await slash_reply(fake, 2))["content"])[0] == "It was"
        assert holmes.requests[-1]["seed"] == "It was"
        asked = await fake.say("!holmes --talk lestrade: And you?")  # the text form as before
        text = parse_reply((await finished(fake, await reply_to(fake, asked), "holmes"))["content"])[1]
        assert answered_by(text, "Lestrade") and alice.requests == []
        assert_nobody_pinged(fake)

    run_with_bot(scenario, **FAST, models_dir=str(models_dir))


def test_slash_ask_asks_a_character_of_another_model(models_dir: Path) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        holmes, alice = bot.generators["holmes"], bot.generators["alice"]
        assert await choices(fake, "ask", {"model": "hol"}, "model") == ["holmes"]
        assert await choices(fake, "ask", {"model": ""}, "model") == ["alice", "holmes"]
        assert await choices(fake, "ask", {"model": "holmes", "character": "wat"}, "character") == ["Watson"]
        assert "the Hatter" in await choices(fake, "ask", {"character": "hat"}, "character")  # default: alice
        assert await choices(fake, "ask", {"model": "nobody", "character": ""}, "character") == []

        await fake.slash("ask", {"model": "**nobody**", "character": "watson", "words": "Hello?"})
        refusal = (await fake.wait_until(lambda: [c for c in callbacks(fake) if c["type"] == 4]))[0]["data"]
        assert refusal["flags"] & 64 and "\n" not in refusal["content"]
        assert refusal["content"] == "I serve no model called \\*\\*nobody\\*\\*; `/models` lists them."

        await fake.slash("ask", {"model": "Holmes", "character": "watson", "words": "Who are you?"})
        answer = await slash_reply(fake, 1)
        assert answered_by(parse_reply(answer["content"])[1], "Watson")
        assert openings(holmes)[0].endswith("\u201cWho are you?\u201d said Holmes.\n\n\u201c")

        again = await fake.say("!ask And then?", reply_to=answer["id"])  # a reply goes on with holmes and Watson
        text = parse_reply((await finished(fake, await reply_to(fake, again), "holmes"))["content"])[1]
        assert answered_by(text, "Watson") and len(openings(holmes)) == 2
        assert openings(holmes)[1].endswith("\u201cAnd then?\u201d said Holmes.\n\n\u201c")
        assert alice.requests == []
        assert_nobody_pinged(fake)

    run_with_bot(scenario, **FAST, models_dir=str(models_dir))


def test_the_buttons_under_an_answer_name_its_character_from_the_start() -> None:
    """Stop while an answer is written, Continue and Again after: each carries the character, so a
    reply to an answer stopped half-way (no attribution shown yet) still goes on with them."""
    import asyncio
    from types import SimpleNamespace

    from bot.discord_app.buttons import StoryButtons, model_of, talk_of

    def message(view) -> SimpleNamespace:
        return SimpleNamespace(components=[SimpleNamespace(children=view.children)])

    async def views() -> None:
        buttons = StoryButtons(SimpleNamespace())
        writing, done = buttons.writing("alice", "the Mock Turtle"), buttons.finished("holmes", "Watson")
        assert [b.custom_id for b in writing.children] == ["alice:stop:alice:the Mock Turtle"]
        assert [b.custom_id for b in done.children] == ["alice:continue:holmes:Watson", "alice:again:holmes:Watson"]
        assert (model_of(message(writing)), talk_of(message(writing))) == ("alice", "the Mock Turtle")
        story = buttons.finished("alice")
        assert (model_of(message(story)), talk_of(message(story))) == ("alice", None)
        longest = buttons.finished("m" * 32, "x" * 48)  # a command name and a name at their longest
        assert all(len(b.custom_id) <= 100 for b in longest.children) and talk_of(message(longest)) == "x" * 48

    asyncio.run(views())
