"""The `words` setting in every front end: the command line, the terminal (also a real one in a
pseudo-terminal) and Discord."""

from __future__ import annotations

import io
import os
import re
import sys

import pytest
from test_lexicon import tiny, unlisted  # noqa: F401 (tiny: the fixture)
from test_story_terminal import quit_terminal
from test_train import CORPUS, ROOT, TINY, needs_corpus, private_cache  # noqa: F401 (private_cache: the autouse fixture)

from bot.__main__ import main as bot_main
from bot.model_loading import open_generator
from bot.settings import Settings, load_settings
from bot.terminal.model_slot import ModelSlot
from bot.terminal.repl import Repl
from engine.modelfolder import load_model_folder


def test_alice_words_and_the_words_option_of_the_command_line(tiny, tmp_path, monkeypatch, capsys):  # noqa: F811 (the imported fixture)
    for name in os.environ:
        if name.startswith(("ALICE_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert load_settings().words == "lexicon"
    command = ["--model", str(tiny), "--seed", "The ", "--len", "400", "--rng-seed", "2"]
    texts = {}
    for words in ("free", "lexicon", "maybe"):
        code = bot_main([*command, "--words", words])
        texts[words], err = capsys.readouterr()
        assert (code, err) == ((2, "alice: --words maybe: must be lexicon or free\n") if words == "maybe" else (0, ""))
    monkeypatch.setenv("ALICE_WORDS", "free")
    assert load_settings().words == "free"
    assert bot_main(command) == 0
    texts["env free"] = capsys.readouterr().out
    lexicon = load_model_folder(tiny).lexicon  # left free, this barely trained model spells nonsense
    assert unlisted(texts["lexicon"], lexicon) == [] and unlisted(texts["free"], lexicon) and \
        unlisted(texts["env free"], lexicon)
    monkeypatch.setenv("ALICE_WORDS", "maybe")
    assert bot_main(command) == 2 and capsys.readouterr().err == "alice: ALICE_WORDS must be lexicon or free\n"


def test_the_words_command_in_the_terminal(tiny):  # noqa: F811 (the imported fixture)
    settings = Settings(model=str(tiny), device="cpu", length=400)
    slot = ModelSlot(settings, opener=open_generator)
    slot.start()
    out = io.StringIO()
    repl = Repl(settings, slot, out)
    try:
        assert "words lexicon" in repl.toolbar()
        for line in ["/seed 4", "/temp 1.3", "/words free", "The ", "/words lexicon", "The ", "/words maybe", "/info"]:
            repl.handle_line(line)
    finally:
        slot.close()
    said = out.getvalue().split("\n")
    assert "words = free" in said and "words = lexicon" in said and "/words maybe: must be lexicon or free" in said
    free, guided = (said[said.index(f"words = {mode}") + 1] for mode in ("free", "lexicon"))
    lexicon = slot.generator.loaded.lexicon
    assert unlisted(free, lexicon) and unlisted(guided, lexicon) == []
    assert re.search(rf"lexicon +{len(lexicon):,} words", out.getvalue())
    assert re.search(r"words +lexicon", out.getvalue())


def test_a_real_terminal_starts_with_alice_words_and_follows_the_words_command(tmp_path, tiny):  # noqa: F811 (the imported fixture)
    pexpect = pytest.importorskip("pexpect")
    from bot.terminal.session import PROMPT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "DISCORD_"))}
    env.update(PROMPT_TOOLKIT_NO_CPR="1", ALICE_HISTORY=str(tmp_path / "history"), PYTHONPATH=str(ROOT), TERM="xterm",
               ALICE_WORDS="free")
    child = pexpect.spawn(sys.executable, ["-m", "bot", "--model", str(tiny), "--device", "cpu"], cwd=str(tmp_path),
                          env=env, encoding="utf-8", timeout=30, dimensions=(24, 160))
    try:
        child.expect_exact(PROMPT.strip())  # (no toolbar here: prompt_toolkit draws it once it knows the
        child.send("/words\r")              # terminal's height, which a pseudo-terminal without CPR never tells)
        child.expect_exact("words are free")
        child.send("/words lexicon\r")
        child.expect_exact("words = lexicon")
        child.send("/words\r")
        child.expect_exact("words are lexicon")
        child.expect_exact(PROMPT.strip())  # raw mode again: Ctrl-D reaches prompt_toolkit as a key
        quit_terminal(pexpect, child)
    finally:
        child.close(force=True)


def test_words_option_of_alice_in_discord():
    from discord_harness import finished_reply, run_with_bot

    async def scenario(fake, bot) -> None:
        await fake.say("!alice --words free --len 20 the queen")
        await finished_reply(fake)
        await fake.say("!alice --len=20 the king")
        await finished_reply(fake, index=1)
        await fake.say("!alice --words maybe the king")
        posts = await fake.wait_until(lambda: fake.posts()[2:])
        assert "--words must be lexicon or free" in posts[0].body["content"]
        await fake.slash("alice", {"seed": "the duchess", "words": "free", "length": 20})
        await fake.wait_until(lambda: len(bot.generators["alice"].requests) == 3)
        await finished_reply(fake, index=3)  # written to the end (the answer to --words maybe is message 2)
        requests = bot.generators["alice"].requests
        assert [r["seed"] for r in requests] == ["the queen", "the king", "the duchess"]
        assert [r["sampling"].words for r in requests] == ["free", "lexicon", "free"]

    run_with_bot(scenario)
