"""What a channel is shown: the real bot against the fake Discord, attachments from its stand-in CDN,
books from a local stand-in for Project Gutenberg. No message names a server folder, people's text is
echoed as typed (no mention, no markup), a book that cannot be learnt is refused at once in one line,
and a refusal names what was refused."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from discord_harness import run_with_bot
from discord_wire import OTHER_USER_ID, OWNER_ID, ROLE_NAME
from fake_discord import FakeDiscord
from test_gutenberg import Mirror, mirror  # noqa: F401 (mirror: the fixture)
from test_learn_discord import TINY, answer, learn_settings, never_pinged, status_until

from bot.discord_app.channel_output import echo, for_channel, unpathed
from train.gutenberg import MIRROR_ENV

# what a channel must never see: the bot's own folders (the test's temp folder holds the models folder)
FORBIDDEN = ("upload", ".learn-", sys.prefix, "/tmp/", tempfile.gettempdir())
BOOK = ("Alice was beginning to get very tired of sitting by her sister on the bank, and of having "
        "nothing to do. " * 40).encode()  # 4,000 characters: enough for the tiny training settings


@pytest.fixture
def models(tmp_path) -> Path:
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


@pytest.fixture
def offline_gutenberg(mirror: Mirror, monkeypatch, tmp_path) -> Mirror:  # noqa: F811 (the fixture)
    monkeypatch.setenv(MIRROR_ENV, mirror.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return mirror


def nothing_private_shown(fake: FakeDiscord, *folders: Path) -> None:
    """No message the bot posted or edited holds a server folder (or the given ones)."""
    for body in fake.bodies():
        content = body.get("content") or body.get("data", {}).get("content") or ""
        for secret in (*FORBIDDEN, *map(str, folders)):
            assert secret not in content, (secret, content)
    never_pinged(fake)


def test_books_that_cannot_be_learnt_are_refused_at_once_named_as_uploaded(models, tmp_path,
                                                                         offline_gutenberg) -> None:
    cases = [  # (attachment's name, its bytes, what the one reply says after "Could not learn NAME: ")
        ("pic.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "pic.txt: this is a PNG image, not a text file."),
        ("utf16.txt", "\ufeffAlice was beginning".encode("utf-16-le"),
         "utf16.txt: this is UTF-16 text; save it as UTF-8."),
        ("tiny.txt", b"Alice was beginning to get very tired.", "tiny.txt: only 38 characters of text after cleaning"),
        ("../../etc/passwd.txt", b"root:x:0:0", "../../etc/passwd.txt: only 10 characters of text after cleaning"),
        ("my.old.book.txt", b"\x00\x01" * 100,
         "my.old.book.txt: contains NUL bytes, so it is binary, not a text file."),
    ]

    async def scenario(fake: FakeDiscord, bot) -> None:
        for index, (filename, data, reason) in enumerate(cases):
            upload = fake.attach(filename, data)
            said = await answer(fake, f"!learn book{index}", attachments=[upload], author_id=OWNER_ID)
            assert said.startswith(f"Could not learn book{index}: {reason}"), said
            assert "\n" not in said and "_.._etc" not in said
        missing = await answer(fake, "!learn gutenberg:4242 ghost", author_id=OWNER_ID)
        assert missing.startswith("Could not learn ghost: gutenberg:4242: download failed (") and "HTTP 404" in missing
        assert "127.0.0.1" not in missing  # the mirror's address is the server's business
        assert not [m for m in fake.messages.values() if m["content"].startswith("Learning")]  # no status first
        assert not list(models.iterdir())  # no temp folder left behind
        nothing_private_shown(fake, tmp_path, models)

    run_with_bot(scenario, **learn_settings(models))


def test_a_training_failure_reaches_the_channel_without_the_servers_paths(models, tmp_path) -> None:
    nobase = tmp_path / "private" / "no-such-base"  # the check passes; the child then fails on it

    async def scenario(fake: FakeDiscord, bot) -> None:
        upload = fake.attach("story.txt", BOOK)
        await fake.say("!learn story", attachments=[upload], author_id=OWNER_ID)
        failed = await status_until(fake, r"^Could not learn story")
        assert "no-such-base" in failed and "private" not in failed, failed  # the reason, cut to its last part
        assert not list(models.iterdir())
        nothing_private_shown(fake, tmp_path, models)

    run_with_bot(scenario, **learn_settings(models, learn_train_args=f"{TINY} --from {nobase}"))


def test_names_people_type_are_echoed_as_typed(models, tmp_path) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        owner = {"author_id": OWNER_ID}
        mention = await answer(fake, "!learn gutenberg:84 <@1100000000000000021>", **owner)
        assert "<@1100000000000000021>" not in mention and "<@\u200b1100000000000000021>" in mention
        markup = await answer(fake, "!learn gutenberg:84 ||x||**y**", **owner)
        assert "\\|\\|x\\|\\|\\*\\*y\\*\\*" in markup and "||x||" not in markup
        everyone = await answer(fake, "!learn gutenberg:84 @everyone", **owner)
        assert "@everyone" not in everyone and "@\u200beveryone" in everyone
        book = await answer(fake, "!learn <@&1100000000000000030>_x_ name", **owner)
        assert book.startswith("<@\u200b&1100000000000000030>\\_x\\_ is not a book I can fetch")
        option = await answer(fake, "!alice --temp **hot** alice", **owner)
        assert option == "--temp needs a number, not \\*\\*hot\\*\\*."
        nothing_private_shown(fake, tmp_path, models)

    run_with_bot(scenario, **learn_settings(models))


def test_refusals_name_what_was_refused(models, tmp_path) -> None:
    async def scenario(fake: FakeDiscord, bot) -> None:
        stranger = {"author_id": OTHER_USER_ID}
        assert await answer(fake, "!learn stop", **stranger) == \
            f"Only the bot's owner and members with the role {ROLE_NAME} can stop a lesson."
        assert await answer(fake, "!learn gutenberg:5 five", **stranger) == \
            f"Only the bot's owner and members with the role {ROLE_NAME} can teach me a book."
        assert await answer(fake, "!reload", **stranger) == "Only the bot's owner can use !reload."
        assert await answer(fake, "!sync", **stranger) == "Only the bot's owner can use !sync."
        nothing_private_shown(fake, tmp_path, models)

    run_with_bot(scenario, **learn_settings(models, learn_role=ROLE_NAME))


def test_the_gate_cuts_server_folders_and_program_paths() -> None:
    line = f"{sys.prefix}/lib/python3/site-packages/x.py and {tempfile.gettempdir()}/a/models/.learn-b/upload/p.txt"
    assert for_channel(line) == "x.py and p.txt"
    assert for_channel("the book pictures.txt, /tmpfoo kept") == "the book pictures.txt, /tmpfoo kept"
    assert unpathed("/srv/alice/models/.learn-x/upload/pic.txt: this is a PNG image") == "pic.txt: this is a PNG image"
    assert unpathed("(http://10.0.0.5:8080/cache/epub/5/pg5.txt: HTTP 404)") == "(pg5.txt: HTTP 404)"
    assert unpathed("and/or 1/2 ../up/a.txt") == "and/or 1/2 ../up/a.txt"  # not absolute: left as it is
    assert echo("<@123456789012345678> **b** @here") == "<@\u200b123456789012345678> \\*\\*b\\*\\* @\u200bhere"
