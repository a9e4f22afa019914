"""Settings: each rule in words, the variable named only when it was set, and the length cap
(ALICE_MAX_LENGTH) kept to the Discord bot, whose replies must fit a 2,000-character message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.discord_app.alice_bot import main as discord_main
from bot.settings import Settings, SettingsError, checked_for_discord, load_settings


def test_a_bad_variable_is_named_and_its_rule_stands_alone() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ={"ALICE_LENGTH": "0"}, dotenv=None)
    assert str(error.value) == "ALICE_LENGTH must be a positive number of characters"
    assert error.value.rule == "must be a positive number of characters"  # for `--len 0: ...`, `/len 0: ...`


def test_best_of_is_a_whole_number_from_1_to_64() -> None:
    assert load_settings(environ={"ALICE_BEST_OF": "8"}, dotenv=None).best_of == 8
    for bad in ("0", "65"):
        with pytest.raises(SettingsError) as error:
            load_settings(environ={"ALICE_BEST_OF": bad}, dotenv=None)
        assert str(error.value) == "ALICE_BEST_OF must be a whole number from 1 (plain sampling) to 64"


def test_a_bad_override_is_refused_without_naming_a_variable_in_its_rule() -> None:
    with pytest.raises(SettingsError) as error:
        Settings().with_overrides(top_p=0.0)
    assert error.value.rule == "must be in (0, 1]"


def test_any_positive_length_is_a_valid_setting_whatever_the_cap() -> None:
    assert load_settings(environ={}, dotenv=None, length=3300).length == 3300
    assert load_settings(environ={"ALICE_LENGTH": "3300"}, dotenv=None).length == 3300
    assert Settings(max_length=100).with_overrides(length=10**6).length == 10**6


def test_the_discord_bot_still_keeps_its_default_length_under_its_cap() -> None:
    too_long = load_settings(environ={"ALICE_LENGTH": "1600"}, dotenv=None)
    with pytest.raises(SettingsError, match=r"ALICE_LENGTH \(1600\) must be at most ALICE_MAX_LENGTH \(1500\)"):
        checked_for_discord(too_long)
    raised = load_settings(environ={"ALICE_LENGTH": "1600", "ALICE_MAX_LENGTH": "1800"}, dotenv=None)
    assert checked_for_discord(raised) is raised


def test_alice_discord_refuses_a_default_length_above_its_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys) -> None:
    for name in os.environ:
        if name.startswith(("ALICE_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert discord_main(["--length", "1600"]) == 2  # before the token is even looked at
    assert "must be at most ALICE_MAX_LENGTH (1500)" in capsys.readouterr().err


def test_a_switch_reads_on_and_off_and_its_flag_turns_it_on() -> None:
    from bot.__main__ import build_parser, resolve_settings

    assert load_settings(environ={"ALICE_EXACT": "on"}, dotenv=None).exact is True
    assert load_settings(environ={"ALICE_EXACT": "0"}, dotenv=None).exact is False
    with pytest.raises(SettingsError, match=r"ALICE_EXACT='maybe' must be on or off"):
        load_settings(environ={"ALICE_EXACT": "maybe"}, dotenv=None)
    assert build_parser().parse_args(["--exact"]).exact is True
    assert build_parser().parse_args([]).exact is None  # not given: the environment decides
    assert resolve_settings(build_parser().parse_args(["--exact"])).exact is True
