"""Starting the Discord bot: settings, and startup failures as one line with exit code 2."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from discord_wire import TOKEN
from fake_discord import FakeDiscord

from bot.discord_app.alice_bot import command_name, discord_endpoints, main
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


async def run_main(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """`alice-discord` in a fresh process (bot.run owns its event loop and logging)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "ALICE_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from bot.discord_app.alice_bot import main; sys.exit(main())",
        cwd=cwd, env={**base, "PYTHONPATH": str(ROOT), "ALICE_DEVICE": "cpu", **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


def start_against(fake: FakeDiscord, token: str, cwd: Path) -> tuple[int, str, str]:
    async def scenario() -> tuple[int, str, str]:
        await fake.start()
        try:
            return await run_main({"DISCORD_TOKEN": token, "DISCORD_API_BASE": fake.api_base,
                                   "DISCORD_GATEWAY_URL": fake.gateway_url}, cwd)
        finally:
            await fake.stop()

    return asyncio.run(scenario())


def assert_one_line_exit_2(result: tuple[int, str, str], *words: str) -> str:
    code, out, err = result
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert TOKEN not in out + err  # the token is never shown
    for word in words:
        assert word in err
    return err


def test_missing_token_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DISCORD_TOKEN", "  ")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DISCORD_TOKEN is not set" in err


def test_rejected_token_exits_2_with_one_line(tmp_path: Path) -> None:
    result = start_against(FakeDiscord(), TOKEN + "-wrong", tmp_path)
    assert_one_line_exit_2(result, "rejected DISCORD_TOKEN")


def test_missing_message_content_intent_exits_2_with_the_fix(tmp_path: Path) -> None:
    fake = FakeDiscord(close_code_on_identify=4014)
    result = start_against(fake, TOKEN, tmp_path)
    assert_one_line_exit_2(result, "MESSAGE CONTENT INTENT", "developer portal")
    assert fake.identifies and fake.identifies[0]["intents"] & (1 << 15)  # it did ask for message content


def test_unreachable_discord_exits_2(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = asyncio.run(run_main({"DISCORD_TOKEN": TOKEN,
                                   "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10"}, tmp_path))
    assert_one_line_exit_2(result, "cannot reach Discord", f"127.0.0.1:{port}")


def test_settings_come_from_dotenv_and_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    (tmp_path / "bot.env").write_text("DISCORD_TOKEN=\nALICE_MODELS_DIR=/no/such/folder\n")
    assert main(["--env-file", "bot.env", "--length", "0"]) == 2  # the command line wins, and is checked
    assert "ALICE_LENGTH must be a positive number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = capsys.readouterr().out
    assert "--models-dir" in usage and "ALICE_MODELS_DIR" in usage
    assert "--discord-token" not in usage  # a token on the command line would show in `ps`


def test_env_example_documents_every_setting() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    assignment = re.compile(r"#?\s*([A-Z_]+)=")
    for f in fields(Settings):
        env = f.metadata["env"]
        at = [i for i, line in enumerate(lines) if (m := assignment.match(line)) and m[1] == env]
        assert len(at) == 1, f"{env} should appear once in .env.example"
        above = lines[at[0] - 1]
        assert above.startswith("# ") and not assignment.match(above), f"{env} has no comment above it"


def test_endpoints_are_patched_and_restored() -> None:
    import discord
    from discord.gateway import DiscordWebSocket

    before = discord.http.Route.BASE, str(DiscordWebSocket.DEFAULT_GATEWAY)
    with discord_endpoints("http://127.0.0.1:9/api/v10/", "ws://127.0.0.1:9/gw"):
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/gw"
    assert (discord.http.Route.BASE, str(DiscordWebSocket.DEFAULT_GATEWAY)) == before
    with discord_endpoints("", ""):  # unset: discord.py's defaults stand
        assert discord.http.Route.BASE == "https://discord.com/api/v10"


def test_command_names_from_folder_names() -> None:
    assert command_name("Holmes") == "holmes"
    assert command_name("Sherlock Holmes (1892)") == "sherlock-holmes-1892"
    assert command_name("war_and_peace") == "war_and_peace"
    assert command_name("???") == ""
