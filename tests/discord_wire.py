"""The fake Discord's wire: the ids and names of its one guild, and the JSON answers and recorded
calls its REST side is made of (tests/fake_discord.py serves them)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

TOKEN = "fake-token-0123456789"
BOT_ID, APP_ID, OWNER_ID = 1100000000000000001, 1100000000000000002, 1100000000000000003
GUILD_ID, CHANNEL_ID = 1100000000000000010, 1100000000000000011
USER_ID, OTHER_USER_ID, OTHER_BOT_ID = 1100000000000000020, 1100000000000000021, 1100000000000000022
ROLE_ID, ROLE_NAME = 1100000000000000030, "Librarian"  # a role of the guild, given with `say(roles=...)`
TIMESTAMP = "2024-01-01T00:00:00+00:00"
PERMISSIONS = str((1 << 41) - 1)
DROP = 0  # an injected "status" that closes the connection without any answer
ERROR_CODES = {403: 50013, 404: 10008}  # Discord's JSON codes: Missing Permissions, Unknown Message
MESSAGE_ROUTE = r"/channels/\d+/messages/\d+"  # edits of a channel message, for `fail`


def user(user_id: int, name: str, bot: bool = False) -> dict:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name,
            "avatar": None, "bot": bot, "public_flags": 0}


def member(user_id: int, name: str, bot: bool = False) -> dict:
    return {"user": user(user_id, name, bot), "roles": [], "joined_at": TIMESTAMP, "deaf": False,
            "mute": False, "flags": 0, "permissions": PERMISSIONS}


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    # discord.py reads JSON only when Content-Type is exactly application/json (no charset)
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def rate_limited(retry_after: float, via: bool = True) -> web.Response:
    """A 429; discord.py waits and retries only when a Via header says it came from Discord."""
    headers = {"Via": "1.1 google"} if via else {}
    return json_response({"message": "You are being rate limited.", "retry_after": retry_after,
                          "global": False}, 429, headers)


def error(status: int) -> web.Response:
    """Discord's answer to a refused request: its JSON error body with `status`."""
    return json_response({"message": f"{status}: {HTTPStatus(status).phrase}",
                          "code": ERROR_CODES.get(status, 0)}, status)


Answer = int | Callable[[], web.Response]  # a status (or DROP), or a whole response


@dataclass
class Failure:
    """The next requests to `path` (a regex) by `method` whose JSON body passes `when` get
    `answers`, one each, before the route answers normally again."""

    method: str
    path: str
    answers: list[Answer]
    when: Callable[[Any], bool] | None = None

    def take(self, call: Call) -> Answer | None:
        """This rule's next answer for `call`, or None when it does not apply (or is used up)."""
        if not self.answers or call.method != self.method or not re.fullmatch(self.path, call.path):
            return None
        if self.when is not None and not self.when(call.body):
            return None
        return self.answers.pop(0)


@dataclass
class Call:
    """One REST request as the fake saw it."""

    method: str
    path: str  # without /api/v10
    body: Any
    at: float  # time.monotonic() on arrival
    status: int = 200


class StoredMessages:
    """The fake's messages (the bot's in `messages`, everyone else's in `user_messages`) and the REST
    answers that make, edit, delete and fetch them (mixed into FakeDiscord)."""

    messages: dict[str, dict]
    user_messages: dict[str, dict]

    def _message(self, channel_id: str, body: dict) -> dict:
        message = {"id": str(next(self._ids)), "channel_id": channel_id, "guild_id": str(GUILD_ID),
                   "author": user(BOT_ID, "Alice", bot=True), "content": body.get("content") or "",
                   "timestamp": TIMESTAMP, "edited_timestamp": None, "tts": False, "mention_everyone": False,
                   "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": False,
                   "type": 0, "flags": body.get("flags", 0), "components": body.get("components") or []}
        if reference := body.get("message_reference"):
            message.update(type=19, message_reference={
                "type": 0, "message_id": str(reference["message_id"]), "channel_id": channel_id,
                "guild_id": str(GUILD_ID)})
        self.messages[message["id"]] = message
        return self._with_reference(message)

    def delete(self, message_id: str) -> bool:
        """Delete one of the bot's messages, as a moderator would (or the bot itself, via DELETE): later
        edits of it answer 404 Unknown Message. False if there is no such message."""
        return self.messages.pop(message_id, None) is not None

    def _edit(self, message_id: str, body: dict) -> web.Response:
        if message_id not in self.messages:
            return error(404)  # Unknown Message: deleted
        message = self.messages[message_id]
        message["content"] = body.get("content", message["content"])
        if "components" in body:
            message["components"] = body["components"] or []
        message["edited_timestamp"] = TIMESTAMP
        return json_response(self._with_reference(message))

    def _message_by_id(self, message_id: str) -> dict:
        return self.messages.get(message_id) or self.user_messages[message_id]

    def _with_reference(self, message: dict) -> dict:
        """The message as Discord shows it: a reply carries the message it answers (one level deep)."""
        reference = message.get("message_reference")
        if not reference:
            return message
        found = self.messages.get(reference["message_id"]) or self.user_messages.get(reference["message_id"])
        return {**message, "referenced_message": found}

    def _callback(self, interaction_id: str, token: str, body: dict) -> web.Response:
        answer = {"id": interaction_id, "type": 2, "response_message_loading": body["type"] == 5,
                  "response_message_ephemeral": bool(body.get("data", {}).get("flags", 0) & 64)}
        if body["type"] == 7:  # a button's message updated in place
            self._edit(self._originals[token], body.get("data") or {})
        if body["type"] not in (4, 5):
            return json_response({"interaction": answer})
        message = self._message(str(CHANNEL_ID), body.get("data") or {})
        self._originals[token] = answer["response_message_id"] = message["id"]
        return json_response({"interaction": answer, "resource": {"type": body["type"], "message": message}})


