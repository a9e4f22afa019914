"""`gutenberg:N` book sources: download Project Gutenberg book N once into a cache, then reuse it.

Anything else given as a book is a local path. The mirror is `https://www.gutenberg.org` unless
the `mirror` argument or the `ALICE_GUTENBERG_MIRROR` environment variable names another one
(tests point it at a local server).
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import platformdirs

from engine.gutenberg_spec import gutenberg_number

DEFAULT_MIRROR = "https://www.gutenberg.org"
MIRROR_ENV = "ALICE_GUTENBERG_MIRROR"
TIMEOUT_S = 30.0  # per request: connecting, and each wait for more bytes
CHUNK = 1 << 16
USER_AGENT = "alice-lstm/0.1 (character-level LSTM; downloads one book once)"


class CorpusError(Exception):
    """A book cannot be used; the message is one line naming the book and the problem.

    Defined here, the lower of the two corpus modules, and re-exported by `train.corpus`.
    """


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/alice/gutenberg`, or `~/.cache/alice/gutenberg` (platform equivalent elsewhere)."""
    return Path(platformdirs.user_cache_dir("alice")) / "gutenberg"


def book_number(spec: str) -> int | None:
    """N for `gutenberg:N`, None for a local path; CorpusError when N is not a positive integer."""
    try:
        return gutenberg_number(spec)
    except ValueError as exc:
        raise CorpusError(str(exc)) from None


def cache_path(number: int, cache_dir: Path | None = None) -> Path:
    """Where book `number` is (or will be) kept."""
    return Path(cache_dir or default_cache_dir()) / f"pg{number}.txt"


def book_urls(number: int, mirror: str | None = None) -> list[str]:
    """Plain-text URLs of book `number`, in the order they are tried."""
    base = (mirror or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR).rstrip("/")
    return [f"{base}/cache/epub/{number}/pg{number}.txt", f"{base}/files/{number}/{number}-0.txt"]


def resolve_source(spec: str, cache_dir: Path | None = None, mirror: str | None = None) -> Path:
    """Local file for a book argument: the path itself, or the cache file of `gutenberg:N`,
    downloaded first if it is not cached yet. Raises CorpusError when the download fails."""
    number = book_number(spec)
    if number is None:
        return Path(spec).expanduser()
    target = cache_path(number, cache_dir)
    if target.is_file() and target.stat().st_size > 0:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CorpusError(f"{spec}: cannot create the cache folder {target.parent}: {e.strerror or e}") from None
    failures = []
    for url in book_urls(number, mirror):
        try:
            _download(url, target)
            return target
        except (OSError, http.client.HTTPException, ValueError) as e:
            failures.append(f"{url}: {_reason(e)}")
    raise CorpusError(f"{spec}: download failed ({'; '.join(failures)})")


def _download(url: str, target: Path) -> None:
    """Fetch `url` into `target` through a temporary file, so `target` is whole or absent."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            first = b""
            while chunk := response.read(CHUNK):
                first = first or chunk
                received += len(chunk)
                out.write(chunk)
            # A connection closed early can end the loop without an error: compare with the header.
            if expected is not None and expected.isdigit() and received < int(expected):
                raise ValueError(f"connection closed after {received} of {expected} bytes")
            if received == 0:
                raise ValueError("the server sent an empty file")
            if first.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
                raise ValueError("the server sent an HTML page, not a plain-text book")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        # Also on Ctrl-C: an interrupted download leaves no half file behind.
        tmp.unlink(missing_ok=True)


def _reason(error: BaseException) -> str:
    """Short one-line cause of a failed request."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        return getattr(reason, "strerror", None) or str(reason)
    if isinstance(error, TimeoutError):
        return f"no answer within {TIMEOUT_S:g} s"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
