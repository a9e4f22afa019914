"""A small fake Discord on 127.0.0.1: REST under /api/v10 and a gateway websocket, for the real
discord.py client. It records every REST call, can be told to fail chosen routes (`fail`), and
pushes MESSAGE_CREATE / INTERACTION_CREATE events to the bot: messages (also as replies), slash
commands and button presses (component interactions, type 3). It keeps the messages, so the bot can
fetch them and follow their references.

Only what alice's bot touches is implemented; anything else answers 404 (and is recorded), so a
test that hits something new fails loudly rather than hanging.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import WSMsgType, web
from discord_wire import (
    APP_ID,
    BOT_ID,
    CHANNEL_ID,
    DROP,
    GUILD_ID,
    OWNER_ID,
    PERMISSIONS,
    ROLE_ID,
    ROLE_NAME,
    TIMESTAMP,
    TOKEN,
    USER_ID,
    Answer,
    Call,
    Failure,
    StoredMessages,
    error,
    json_response,
    member,
    user,
)


@dataclass
class FakeDiscord(StoredMessages):
    shards: int = 1  # what GET /gateway/bot answers
    close_code_on_identify: int | None = None  # e.g. 4014: privileged intent not enabled
    calls: list[Call] = field(default_factory=list)
    identifies: list[dict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # see `fail`
    messages: dict[str, dict] = field(default_factory=dict)  # the bot's, oldest first
    user_messages: dict[str, dict] = field(default_factory=dict)  # everyone else's (`say`)

    def __post_init__(self) -> None:
        # snowflakes carry their creation time: interactions older than 15 minutes count as expired
        self._ids = itertools.count((int(time.time() * 1000) - 1420070400000) << 22)
        self._sockets: dict[int, web.WebSocketResponse] = {}
        self._seq = itertools.count(1)
        self._originals: dict[str, str] = {}  # interaction token -> message id
        self._shard_count = 1  # as the bot said in IDENTIFY
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.files: dict[str, tuple[bytes, str]] = {}  # attachment URL path -> (bytes, content type)

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        app.router.add_get("/attachments/{tail:.*}", self._file)  # Discord's CDN
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets.values()):
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def fail(self, route: str, *answers: Answer, when: Callable[[Any], bool] | None = None) -> Failure:
        """Answer the next requests to `route` ("PATCH /channels/\\d+/messages/\\d+": a method, then a
        regex on the path after /api/v10) with `answers` instead, one each: status codes (with
        Discord's error bodies), DROP, or response factories. `when(body)` narrows which requests."""
        method, path = route.split(" ", 1)
        failure = Failure(method, path, list(answers), when)
        self.failures.append(failure)
        return failure

    # ---- what tests ask --------------------------------------------------------------------
    def requests(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(pattern, c.path)]

    def posts(self) -> list[Call]:
        """Messages the bot sent to the channel (replies, answers, !models lists)."""
        return self.requests("POST", rf"/channels/{CHANNEL_ID}/messages")

    def edits(self, message_id: str, ok_only: bool = True) -> list[Call]:
        return [c for c in self.requests("PATCH", rf"/channels/\d+/messages/{message_id}")
                if c.status == 200 or not ok_only]

    def bodies(self) -> list[dict]:
        """Every message body the bot sent or edited, through any route."""
        routes = r"/channels/\d+/messages(/\d+)?|/webhooks/.*|/interactions/.*/callback"
        return [c.body for c in self.calls if c.method in ("POST", "PATCH") and re.fullmatch(routes, c.path)
                and isinstance(c.body, dict)]

    async def wait_until(self, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
        """`condition()` once it is true; fails after `timeout` seconds, generous because on a busy
        machine the model itself may write only ~15 characters a second."""
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            if time.monotonic() > deadline:
                seen = [(c.method, c.path, c.status) for c in self.calls]
                raise AssertionError(f"timed out waiting; REST calls so far: {seen}")
            await asyncio.sleep(0.02)
        return result

    # ---- events pushed to the bot ----------------------------------------------------------
    def attach(self, filename: str, data: bytes, content_type: str | None = "text/plain; charset=utf-8",
               size: int | None = None) -> dict:
        """An attachment for `say(attachments=[...])`, its bytes served as Discord's CDN would; `size`
        is what Discord says the file has (default: the real size)."""
        attachment_id = str(next(self._ids))
        path = f"/attachments/{CHANNEL_ID}/{attachment_id}/{quote(filename, safe='')}"  # as the CDN names it
        self.files[path] = (data, content_type or "application/octet-stream")
        url = f"http://127.0.0.1:{self.port}{path}"
        found = {"id": attachment_id, "filename": filename, "size": len(data) if size is None else size,
                 "url": url, "proxy_url": url}
        return found | ({"content_type": content_type} if content_type else {})

    async def _file(self, request: web.Request) -> web.Response:
        if request.raw_path not in self.files:
            return web.Response(status=404)
        data, content_type = self.files[request.raw_path]
        return web.Response(body=data, headers={"Content-Type": content_type})

    async def say(self, content: str, author_id: int = USER_ID, bot: bool = False, reply_to: str | None = None,
                  ping: bool = False, attachments: list[dict] | None = None, roles: list[int] = ()) -> str:
        """Someone writes `content` in the channel, as a reply to message `reply_to` if given (`ping`:
        the reply mentions that message's author, as Discord's reply toggle does), with `attachments`
        (see `attach`), holding the guild's `roles` (ids); returns the id."""
        message_id = str(next(self._ids))
        author = {k: v for k, v in member(author_id, "u", bot).items() if k != "user"} | \
            {"roles": [str(role) for role in roles]}
        data = {"id": message_id, "channel_id": str(CHANNEL_ID), "guild_id": str(GUILD_ID),
                "author": user(author_id, f"user{author_id % 100}", bot), "member": author,
                "content": content, "timestamp": TIMESTAMP, "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": attachments or [],
                "embeds": [], "pinned": False, "type": 0, "flags": 0}
        if reply_to is not None:
            data.update(type=19, message_reference={"type": 0, "message_id": reply_to, "channel_id": str(CHANNEL_ID),
                                                   "guild_id": str(GUILD_ID)})
            if ping:
                data["mentions"] = [self._message_by_id(reply_to)["author"]]
        self.user_messages[message_id] = data
        await self.dispatch("MESSAGE_CREATE", self._with_reference(data))
        return message_id

    async def press(self, message_id: str, custom_id: str, author_id: int = USER_ID) -> str:
        """Someone presses the button `custom_id` under message `message_id`; returns the interaction token."""
        token = f"itoken-{next(self._ids)}"
        self._originals[token] = message_id  # a component interaction's "original" is its message
        return await self._interact(3, token, author_id, data={"custom_id": custom_id, "component_type": 2},
                                    message=self._with_reference(self.messages[message_id]))

    def buttons(self, message_id: str) -> list[str]:
        """The custom_ids of the buttons under message `message_id`."""
        rows = self.messages[message_id].get("components", [])
        return [c["custom_id"] for row in rows for c in row.get("components", []) if "custom_id" in c]

    async def slash(self, name: str, options: dict[str, Any], author_id: int = USER_ID) -> str:
        """Someone runs /name with `options`; returns the interaction token."""
        token = f"itoken-{next(self._ids)}"
        kinds = {str: 3, int: 4, bool: 5, float: 10}
        return await self._interact(2, token, author_id, data={
            "id": str(next(self._ids)), "name": name, "type": 1,
            "options": [{"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()]})

    async def autocomplete(self, name: str, options: dict[str, Any], focused: str, author_id: int = USER_ID) -> str:
        """Someone types option `focused` of /name (the others as given): an autocomplete interaction (type 4)."""
        token = f"itoken-{next(self._ids)}"
        return await self._interact(4, token, author_id, data={
            "id": str(next(self._ids)), "name": name, "type": 1,
            "options": [{"name": k, "type": 3, "value": v, "focused": k == focused} for k, v in options.items()]})

    async def _interact(self, kind: int, token: str, author_id: int, **fields: Any) -> str:
        """Send an INTERACTION_CREATE of `kind` (2 a slash command, 3 a button) from the channel; returns `token`."""
        data = {"id": str(next(self._ids)), "application_id": str(APP_ID), "type": kind, "token": token,
                "version": 1, **fields, "guild_id": str(GUILD_ID), "channel_id": str(CHANNEL_ID),
                "channel": {"id": str(CHANNEL_ID), "type": 0, "guild_id": str(GUILD_ID), "name": "general",
                            "position": 0, "permission_overwrites": [], "permissions": PERMISSIONS},
                "member": member(author_id, f"user{author_id % 100}"), "app_permissions": PERMISSIONS,
                "locale": "en-US", "guild_locale": "en-US", "entitlements": [], "context": 0,
                "authorizing_integration_owners": {"0": str(GUILD_ID)}, "attachment_size_limit": 8 << 20}
        await self.dispatch("INTERACTION_CREATE", data)
        return token

    async def dispatch(self, event: str, data: dict) -> None:
        ws = self._sockets[(GUILD_ID >> 22) % self._shard_count]  # Discord's rule for a guild's shard
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    # ---- gateway ---------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            if payload["op"] == 1:  # heartbeat
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:  # identify
                self.identifies.append(payload["d"])
                if self.close_code_on_identify:
                    await ws.close(code=self.close_code_on_identify)
                    break
                shard_id, self._shard_count = payload["d"].get("shard", [0, 1])
                self._sockets[shard_id] = ws
                await self._ready(ws, shard_id, self._shard_count)
        return ws

    async def _ready(self, ws: web.WebSocketResponse, shard_id: int, count: int) -> None:
        mine = (GUILD_ID >> 22) % count == shard_id
        ready = {"v": 10, "user": user(BOT_ID, "Alice", bot=True), "session_id": f"session-{shard_id}",
                 "guilds": [{"id": str(GUILD_ID), "unavailable": True}] if mine else [],
                 "resume_gateway_url": self.gateway_url, "application": {"id": str(APP_ID), "flags": 0},
                 "shard": [shard_id, count]}
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        if mine:
            guild = {"id": str(GUILD_ID), "name": "Tea Party", "owner_id": str(OWNER_ID), "unavailable": False,
                     "member_count": 3, "large": False, "features": [], "emojis": [], "stickers": [],
                     "threads": [], "stage_instances": [], "guild_scheduled_events": [], "voice_states": [],
                     "presences": [], "premium_tier": 0, "verification_level": 0, "mfa_level": 0,
                     "roles": [{"id": str(GUILD_ID), "name": "@everyone", "permissions": PERMISSIONS,
                                "position": 0, "color": 0, "hoist": False, "managed": False,
                                "mentionable": False, "flags": 0},
                               {"id": str(ROLE_ID), "name": ROLE_NAME, "permissions": "0", "position": 1,
                                "color": 0, "hoist": False, "managed": False, "mentionable": True, "flags": 0}],
                     "channels": [{"id": str(CHANNEL_ID), "type": 0, "name": "general", "position": 0,
                                   "permission_overwrites": []}],
                     "members": [member(BOT_ID, "Alice", bot=True)]}
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": guild}))

    # ---- REST ------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await request.json() if request.can_read_body and request.content_type == "application/json" else None
        call = Call(request.method, path, body, time.monotonic())
        self.calls.append(call)
        injected = next((a for f in self.failures if (a := f.take(call)) is not None), None)
        if injected == DROP:
            call.status = DROP
            request.transport.close()  # the client sees the server disconnect mid-request
            return web.Response(status=204)
        if injected is not None:
            response = error(injected) if isinstance(injected, int) else injected()
        else:
            response = self._answer(request, call)
        call.status = response.status
        return response

    def _answer(self, request: web.Request, call: Call) -> web.Response:
        method, path, body = call.method, call.path, call.body
        if not path.startswith(("/webhooks/", "/interactions/")) and \
                request.headers.get("Authorization") != f"Bot {TOKEN}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        if (method, path) == ("GET", "/users/@me"):
            return json_response(user(BOT_ID, "Alice", bot=True))
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return json_response({"id": str(APP_ID), "name": "Alice", "description": "", "icon": None,
                                  "bot_public": True, "bot_require_code_grant": False, "verify_key": "00",
                                  "owner": user(OWNER_ID, "owner"), "flags": 0})
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            return json_response({"url": self.gateway_url, "shards": self.shards, "session_start_limit": {
                "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}})
        if method == "POST" and (m := re.fullmatch(r"/channels/(\d+)/messages", path)):
            return json_response(self._message(m[1], body))
        if method == "POST" and re.fullmatch(r"/channels/\d+/typing", path):
            return web.Response(status=204)
        if method == "PATCH" and (m := re.fullmatch(r"/channels/\d+/messages/(\d+)", path)):
            return self._edit(m[1], body)
        if method == "DELETE" and (m := re.fullmatch(r"/channels/\d+/messages/(\d+)", path)):
            return web.Response(status=204) if self.delete(m[1]) else error(404)
        if method == "GET" and (m := re.fullmatch(r"/channels/\d+/messages/(\d+)", path)):
            if m[1] not in self.messages and m[1] not in self.user_messages:
                return error(404)
            return json_response(self._with_reference(self._message_by_id(m[1])))
        if method == "POST" and (m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path)):
            return self._callback(m[1], m[2], body)
        if m := re.fullmatch(rf"/webhooks/{APP_ID}/([^/]+)/messages/@original", path):
            if method == "PATCH":
                return self._edit(self._originals[m[1]], body)
            if self._originals[m[1]] not in self.messages:
                return error(404)
            return json_response(self.messages[self._originals[m[1]]])
        if method == "POST" and re.fullmatch(rf"/webhooks/{APP_ID}/[^/]+", path):  # follow-up message
            return json_response(self._message(str(CHANNEL_ID), body))
        if method == "PUT" and path == f"/applications/{APP_ID}/commands":
            return json_response([{**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1",
                                   "type": c.get("type", 1), "description": c.get("description", "")} for c in body])
        return json_response({"message": "404: Not Found", "code": 0}, 404)
