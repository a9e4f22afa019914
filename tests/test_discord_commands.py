"""Commands of the Discord bot: options, limits, slash commands, per-model commands, !models,
!sync, sharding; the real discord.py client against a fake Discord."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from pathlib import Path

import pytest
from discord_harness import finished_reply, run_with_bot
from discord_wire import APP_ID, OTHER_USER_ID, OWNER_ID
from fake_discord import FakeDiscord

from bot.command_names import RESERVED
from bot.discord_app.streaming_reply import render
from bot.settings import Settings
from engine import BUNDLED_MODEL


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """holmes (a copy of the bundled model with its own corpus and score), folders whose names
    clash with !alice and !ask, and a folder that is not a model."""
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(BUNDLED_MODEL, root / "holmes")
    config = json.loads((root / "holmes" / "config.json").read_text())
    config.update(corpus={"name": "gutenberg:1661"}, metrics={"best_val_bpc": 1.234}, base=None)
    (root / "holmes" / "config.json").write_text(json.dumps(config))
    shutil.copytree(BUNDLED_MODEL, root / "Alice")
    shutil.copytree(BUNDLED_MODEL, root / "ask")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("not a model")
    return root


def test_options_set_temperature_and_length() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --temp 0.5 --len=25 Down the rabbit hole")
        await finished_reply(fake)
        request = bot.generators["alice"].requests[0]
        assert request["seed"] == "Down the rabbit hole" and request["length"] == 25
        assert request["sampling"].temperature == 0.5
        assert len(bot.generators["alice"].outputs[0]) == 25

    run_with_bot(scenario, exact=True)  # exactly --len characters (natural endings: tests/test_discord_stories.py)


def test_best_sets_how_many_candidates_each_sentence_is_kept_from() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --best 2 --len 60 The Queen")
        await finished_reply(fake)
        request = bot.generators["alice"].requests[0]
        assert request["seed"] == "The Queen" and request["sampling"].best_of == 2
        await fake.say("!alice --len 60 The King", author_id=OTHER_USER_ID)
        await finished_reply(fake, 1)
        assert bot.generators["alice"].requests[1]["sampling"].best_of == Settings().best_of  # ALICE_BEST_OF

    run_with_bot(scenario)


def test_case_sets_how_the_reply_is_shown() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --case lower --len 60 The Queen")
        await finished_reply(fake)
        request = bot.generators["alice"].requests[0]
        assert request["seed"] == "The Queen" and request["sampling"].case == "lower"
        await fake.say("!alice --len 60 The King", author_id=OTHER_USER_ID)
        await finished_reply(fake, 1)
        assert bot.generators["alice"].requests[1]["sampling"].case == Settings().case == "book"  # ALICE_CASE

    run_with_bot(scenario)


@pytest.mark.parametrize("options, answer", [
    ("--case upper", "--case must be book or lower"),
    ("--temp hot", "--temp needs a number"),
    ("--temp 5", "Temperature must be between 0 and 2"),
    ("--len 0", "Length must be between 1 and 1500"),
    ("--best 65", "Best must be a whole number from 1 (plain sampling) to 64"),
    ("--best two", "--best needs a whole number"),
])
def test_bad_options_are_answered_in_plain_words(options: str, answer: str) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say(f"!alice {options} seed")
        posts = await fake.wait_until(fake.posts)
        assert answer in posts[0].body["content"]
        assert bot.generators["alice"].requests == []

    run_with_bot(scenario)


def test_cooldown_answers_politely() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 10 one")
        await finished_reply(fake)
        await fake.say("!alice --len 10 two")
        posts = await fake.wait_until(lambda: fake.posts()[1:])
        wait = re.fullmatch(r"Please wait (\d+) s before asking me again\.", posts[0].body["content"])
        assert wait and 20 <= int(wait[1]) <= 30, posts[0].body["content"]  # 30 s less the first reply's time
        await fake.say("!alice --len 10 three", author_id=OTHER_USER_ID)  # others are not held up
        await finished_reply(fake, index=2)
        assert [r["seed"] for r in bot.generators["alice"].requests] == ["one", "three"]

    run_with_bot(scenario, cooldown=30.0)


def test_concurrency_cap_per_server_answers_politely() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!alice --len 60 slow one")
        await fake.wait_until(fake.posts)
        await fake.say("!alice --len 10 impatient", author_id=OTHER_USER_ID)
        posts = await fake.wait_until(lambda: fake.posts()[1:])
        assert "already writing 1 replies" in posts[0].body["content"]
        await finished_reply(fake)
        await fake.say("!alice --len 10 patient", author_id=OTHER_USER_ID)  # a free slot again
        await finished_reply(fake, index=2)
        assert [r["seed"] for r in bot.generators["alice"].requests] == ["slow one", "patient"]

    run_with_bot(scenario, delay=0.02, guild_concurrency=1)


def test_generation_never_blocks_the_event_loop() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        lags: list[float] = []

        async def ticker() -> None:  # how late does a 10 ms sleep wake up?
            while True:
                before = time.monotonic()
                await asyncio.sleep(0.01)
                lags.append(time.monotonic() - before - 0.01)

        ticking = asyncio.create_task(ticker())
        await fake.say("!alice --len 1500 The Hatter")  # ~0.3 s of work, were it on the loop
        await finished_reply(fake)
        ticking.cancel()
        assert len(bot.generators["alice"].outputs[0]) == 1500
        assert max(lags) < 0.2, f"the event loop stalled for {max(lags):.2f} s"  # heartbeats would too

    run_with_bot(scenario, max_length=1500, edit_interval=0.5, exact=True)


def test_slash_command_round_trip() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        token = await fake.slash("alice", {"seed": "The Queen", "temperature": 0.7, "length": 30})
        callback = (await fake.wait_until(lambda: fake.requests("POST", r"/interactions/\d+/.+/callback")))[0]
        assert callback.body["type"] == 4  # answered at once with a message
        assert callback.body["data"]["content"] == "**The Queen**\u258c"
        assert callback.body["data"]["allowed_mentions"] == {"parse": []}
        reply = await finished_reply(fake)
        request = bot.generators["alice"].requests[0]
        assert request["length"] == 30 and request["sampling"].temperature == 0.7
        assert reply["content"] == render("The Queen", bot.generators["alice"].outputs[0], done=True)
        edits = fake.requests("PATCH", rf"/webhooks/{APP_ID}/{token}/messages/@original")
        assert edits and edits[-1].body["content"] == reply["content"]
        assert not fake.requests("POST", r"/channels/\d+/typing")

    run_with_bot(scenario)


def test_slash_command_refusal_is_ephemeral() -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.slash("alice", {"seed": "x", "length": 99999})
        callback = (await fake.wait_until(lambda: fake.requests("POST", r"/interactions/\d+/.+/callback")))[0]
        assert callback.body["data"]["flags"] & 64  # only the asker sees it
        assert "Length must be between" in callback.body["data"]["content"]

    run_with_bot(scenario)


def test_every_model_folder_is_its_own_command(models_dir: Path) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        assert set(bot.generators) == {"alice", "holmes"}  # "Alice" and "ask" clash, "notes" is no model
        own = {c.name for c in bot.commands} | {c.name for c in bot.tree.get_commands()}
        assert own - {"holmes"} <= RESERVED  # every command of the bot's own is a name no model takes
        assert bot.tree.get_command("holmes") is not None  # /holmes too
        await fake.say("!holmes --len 20 Watson")
        reply = await finished_reply(fake)
        assert bot.generators["holmes"].requests[0]["seed"] == "Watson"
        assert bot.generators["alice"].requests == []
        assert reply["content"] == render("Watson", bot.generators["holmes"].outputs[0], done=True)
        await fake.say("!models")
        listing = (await fake.wait_until(lambda: fake.posts()[1:]))[0].body["content"]
        lines = listing.splitlines()
        bundled_bpc = json.loads((BUNDLED_MODEL / "config.json").read_text())["metrics"]["best_val_bpc"]
        assert lines[0].startswith("`!alice`") and "wonderland.txt" in lines[0]
        assert f"{bundled_bpc:.3f} bits/char" in lines[0]
        assert lines[1].startswith("`!holmes`") and "gutenberg:1661" in lines[1] and "1.234 bits/char" in lines[1]
        assert "fine-tuned from library (126 books)" in lines[0] and "fine-tuned" not in lines[1]

    run_with_bot(scenario, models_dir=str(models_dir))


def test_sync_is_explicit_and_owner_only(models_dir: Path) -> None:
    sync_route = rf"/applications/{APP_ID}/commands"

    async def scenario(fake: FakeDiscord, bot) -> None:
        assert not fake.requests("PUT", sync_route)  # never at startup
        await fake.say("!sync")
        refusal = (await fake.wait_until(fake.posts))[0].body["content"]
        assert refusal == "Only the bot's owner can use !sync." and not fake.requests("PUT", sync_route)
        await fake.say("!sync", author_id=OWNER_ID)
        put = (await fake.wait_until(lambda: fake.requests("PUT", sync_route)))[0]
        assert {command["name"] for command in put.body} == {"alice", "ask", "holmes", "models"}
        options = {o["name"] for c in put.body if c["name"] == "alice" for o in c["options"]}
        assert options == {"seed", "temperature", "length", "words", "best", "case"}
        words = next(o for c in put.body if c["name"] == "alice" for o in c["options"] if o["name"] == "words")
        assert [choice["value"] for choice in words["choices"]] == ["lexicon", "free"]
        answer = (await fake.wait_until(lambda: fake.posts()[1:]))[0].body["content"]
        assert answer.startswith("Synced 4 slash commands")

    run_with_bot(scenario, models_dir=str(models_dir))


@pytest.mark.parametrize("shards, discord_answers", [("auto", 2), ("2", 1)])
def test_sharded_bot_identifies_every_shard(shards: str, discord_answers: int) -> None:
    """'auto' takes the shard count from GET /gateway/bot; a number wins over Discord's answer."""
    async def scenario(fake: FakeDiscord, bot) -> None:
        assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
        assert bot.shard_count == 2 and len(bot.shards) == 2
        await fake.say("!alice --len 10 shard")  # the guild's own shard still serves it
        await finished_reply(fake)

    run_with_bot(scenario, fake=FakeDiscord(shards=discord_answers), discord_shards=shards)
