"""`!learn`, `!learn stop`, `!reload` and the `!models` rescan: the real bot against the fake Discord,
books from a local stand-in for Project Gutenberg, real (tiny, seconds-long) training in a child."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from discord_harness import finished_reply, run_with_bot
from discord_wire import OTHER_USER_ID, OWNER_ID, ROLE_ID, ROLE_NAME
from fake_discord import FakeDiscord
from test_gutenberg import Mirror, mirror  # noqa: F401 (mirror: the fixture)

from engine import BUNDLED_MODEL
from train.gutenberg import MIRROR_ENV

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus folder {CORPUS} is absent")
# a tiny model from scratch: the run's seconds go to starting python and torch, not to steps
TINY = ("--from none --embed 16 --hidden 48 --layers 1 --batch 8 --seq-len 40 --dropout 0 --embed-dropout 0 "
        "--weight-drop 0 --threads 1 --warmup-steps 10 --eval-every 50")
# a run that ends by itself after two passes over the book, ~110 steps: about a second of steps and
# exports (each evaluation exports the model), not the 6 s of `--minutes 0.1` with an export every 0.3 s
TWO_EPOCHS = f"{TINY} --epochs 2"
WAIT = 240.0  # seconds for a run on a busy machine (python and torch start in the child)


@pytest.fixture
def book(mirror: Mirror, monkeypatch, tmp_path) -> bytes:  # noqa: F811 (the fixture)
    """Book 77 on the local mirror: the start of Alice, about 20,000 characters; the Gutenberg cache
    and token cache in a temp folder."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus folder {CORPUS} is absent")
    data = (CORPUS / "wonderland.txt").read_bytes()[:20_000]
    mirror.serve("/cache/epub/77/pg77.txt", data)
    monkeypatch.setenv(MIRROR_ENV, mirror.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return data


@pytest.fixture
def models(tmp_path) -> Path:
    """A models folder holding holmes (a copy of the bundled model)."""
    root = tmp_path / "models"
    shutil.copytree(BUNDLED_MODEL, root / "holmes")
    return root


def learn_settings(models: Path, **more) -> dict:
    return {"models_dir": str(models), "learn_train_args": TINY, "edit_interval": 0.2, **more}


def never_pinged(fake: FakeDiscord) -> None:
    """Every message the bot sent or edited said: mention nobody."""
    for body in fake.bodies():
        if "content" in body:
            mentions = body.get("allowed_mentions") or {}
            assert mentions.get("parse") == [] and not mentions.get("replied_user"), body


def posted(fake: FakeDiscord, index: int) -> str:
    return fake.posts()[index].body["content"]


async def answer(fake: FakeDiscord, text: str, **who) -> str:
    """What the bot posts next after `text` is said."""
    before = len(fake.posts())
    await fake.say(text, **who)
    await fake.wait_until(lambda: len(fake.posts()) > before)
    return posted(fake, before)


async def status_until(fake: FakeDiscord, pattern: str) -> str:
    """The bot's newest learning status once it matches `pattern`."""
    def current() -> str | None:
        statuses = [m["content"] for m in fake.messages.values() if re.match(r"(Learn|Could|Stopped)", m["content"])]
        return statuses[-1] if statuses and re.search(pattern, statuses[-1]) else None

    return await fake.wait_until(current, timeout=WAIT)


@needs_corpus
def test_owner_teaches_a_book_and_talks_to_it_without_a_restart(book, models) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!learn gutenberg:77 tiny --minutes 0.1", author_id=OWNER_ID)
        done = await status_until(fake, r"^(Learned|Could)")
        assert re.fullmatch(r"Learned \*\*tiny\*\* from gutenberg:77 in .+: \d\.\d{3} bits/char\. Talk to it with "
                            r"`!tiny <text>` \(and `/tiny` once the owner has run `!sync`\)\.", done), done
        status = next(m for m in fake.messages.values() if m["content"] == done)
        shown = [c.body["content"] for c in fake.edits(status["id"])]
        assert any(re.search(r"\d+% · \d\.\d\d bits/char", text) for text in shown), shown  # progress on the way
        assert sorted(p.name for p in models.iterdir()) == ["holmes", "tiny"]  # no temp folder left
        assert not (models / "tiny" / "checkpoint.safetensors").exists()
        config = json.loads((models / "tiny" / "config.json").read_text())
        assert config["name"] == "tiny" and config["corpus"]["name"] == "gutenberg:77"
        await fake.say("!tiny --len 20 the queen")  # anyone may talk to it, at once
        reply = await fake.wait_until(lambda: next((m for m in fake.messages.values() if m["content"].startswith(
            "**the queen**") and "\u258c" not in m["content"]), None), WAIT)
        assert len(reply["content"]) > len("**the queen**") and fake.buttons(reply["id"])  # written, with its buttons
        assert bot.tree.get_command("tiny") is not None  # /tiny once synced
        listing = await answer(fake, "!models")
        assert "`!tiny`: gutenberg:77" in listing and "`!holmes`" in listing
        never_pinged(fake)

    run_with_bot(scenario, **learn_settings(models, learn_train_args=TWO_EPOCHS))


@needs_corpus
def test_strangers_are_refused_and_the_learning_role_may_teach(book, models) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        refusal = await answer(fake, "!learn gutenberg:77 tiny", author_id=OTHER_USER_ID)
        assert refusal == f"Only the bot's owner and members with the role {ROLE_NAME} can teach me a book."
        # a member with the role gets past the door (and is then told what is wrong with the name)
        said = await answer(fake, "!learn gutenberg:77 no/such", author_id=OTHER_USER_ID, roles=[ROLE_ID])
        assert said.startswith("'no/such' is not a model name")
        assert await answer(fake, "!reload", author_id=OTHER_USER_ID) == "Only the bot's owner can use !reload."
        assert sorted(p.name for p in models.iterdir()) == ["holmes"]
        never_pinged(fake)

    run_with_bot(scenario, **learn_settings(models, learn_role=ROLE_NAME))


@needs_corpus
def test_bad_requests_get_one_line_each_and_start_nothing(book, models) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        owner = {"author_id": OWNER_ID}
        cases = [
            ("!learn gutenberg:77 Alice", "The name alice is one of my commands; pick another one."),
            ("!learn gutenberg:77 learn", "The name learn is one of my commands; pick another one."),
            ("!learn gutenberg:77 " + "x" * 33, "is not a model name: letters, digits, - and \\_, at most 32."),
            ("!learn gutenberg:77 holmes", "There is already a model called holmes; add --replace to train it again."),
            ("!learn /etc/passwd secrets", "/etc/passwd is not a book I can fetch"),
            ("!learn gutenberg:77", "Write !learn gutenberg:N NAME"),
            ("!learn gutenberg:77 tiny --minutes 9", "--minutes 9 is over this bot's limit of 5 minutes."),
            ("!learn gutenberg:77 tiny --minutes soon", "--minutes needs a number, not soon."),
        ]
        for text, expected in cases:
            said = await answer(fake, text, **owner)
            assert expected in said and "\n" not in said, (text, said)
        picture = fake.attach("alice.png", b"\x89PNG\r\n", "image/png")
        said = await answer(fake, "!learn pictures", attachments=[picture], **owner)
        assert said == "The file alice.png is not a plain-text book: attach a .txt file."
        huge = fake.attach("big.txt", b"words " * 10, size=30 * 2**20)
        said = await answer(fake, "!learn big", attachments=[huge], **owner)
        assert said == "The file big.txt is 30.0 MB; I take books up to 20 MB."
        assert sorted(p.name for p in models.iterdir()) == ["holmes"]
        assert not [m for m in fake.messages.values() if m["content"].startswith("Learning")]
        never_pinged(fake)

    run_with_bot(scenario, **learn_settings(models, learn_minutes=5.0))


@needs_corpus
def test_a_missing_or_too_short_book_is_one_line_and_nothing_is_kept(book, models) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        await fake.say("!learn gutenberg:404 ghost", author_id=OWNER_ID)
        failed = await status_until(fake, r"^Could")
        assert failed.startswith("Could not learn ghost: gutenberg:404: download failed (") and "HTTP 404" in failed
        assert "\n" not in failed
        assert sorted(p.name for p in models.iterdir()) == ["holmes"] and "ghost" not in bot.generators
        short = fake.attach("note.txt", b"Alice was beginning to get very tired.")
        await fake.say("!learn note", attachments=[short], author_id=OWNER_ID)
        failed = await status_until(fake, r"^Could not learn note")
        assert re.fullmatch(r"Could not learn note: .*note\.txt: .*at least 1,000 are needed\.", failed), failed
        assert sorted(p.name for p in models.iterdir()) == ["holmes"]
        never_pinged(fake)

    run_with_bot(scenario, **learn_settings(models))


@needs_corpus
def test_stop_cancels_a_replacement_and_keeps_the_old_model(book, models) -> None:
    weights = hashlib.sha256((models / "holmes" / "model.safetensors").read_bytes()).hexdigest()

    async def scenario(fake: FakeDiscord, bot) -> None:
        upload = fake.attach("sherlock.txt", book)
        await fake.say("!learn holmes --replace --minutes 30", attachments=[upload], author_id=OWNER_ID)
        await status_until(fake, r"^Learning \*\*holmes\*\* from sherlock\.txt: \d+%")  # training, not starting
        busy = await answer(fake, "!learn gutenberg:77 other", author_id=OWNER_ID)
        assert busy.startswith("I am already learning holmes (") and busy.endswith("one book at a time; "
                                                                                   "!learn stop cancels it.")
        stopped = await answer(fake, "!learn stop", author_id=OWNER_ID)
        assert re.fullmatch(r"Stopped learning holmes after .+: nothing kept, the old holmes is unchanged\.", stopped)
        assert await status_until(fake, r"^Stopped") == stopped
        assert sorted(p.name for p in models.iterdir()) == ["holmes"]  # the temp folder is gone
        assert hashlib.sha256((models / "holmes" / "model.safetensors").read_bytes()).hexdigest() == weights
        assert await answer(fake, "!learn stop", author_id=OWNER_ID) == "I am not learning any book now."
        never_pinged(fake)

    run_with_bot(scenario, **learn_settings(models))


def test_models_and_reload_serve_folders_added_by_hand(models) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        shutil.copytree(BUNDLED_MODEL, models / "poe")
        listing = await answer(fake, "!models")
        assert "`!poe`" in listing and "poe" in bot.generators
        shutil.copytree(BUNDLED_MODEL, models / "wells")
        said = await answer(fake, "!reload", author_id=OWNER_ID)
        assert said == "Now serving `!wells` (the slash commands after `!sync`)."
        assert await answer(fake, "!reload", author_id=OWNER_ID) == "No new models in the models folder."
        index = len(fake.messages)
        await fake.say("!wells --len 10 mars")
        await finished_reply(fake, index=index)
        await bot.serve_model("wells", models / "poe")  # served anew under the same name, as --replace does
        index = len(fake.messages)
        await fake.say("!wells --len 10 venus")
        await finished_reply(fake, index=index)
        assert bot.generators["wells"].loaded.path == models / "poe" and bot.tree.get_command("wells") is not None
        never_pinged(fake)

    run_with_bot(scenario, models_dir=str(models))
