"""`gutenberg:N` sources, downloaded from a real HTTP server on 127.0.0.1 serving real book bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from train.corpus import CorpusError, read_book
from train.gutenberg import MIRROR_ENV, default_cache_dir, resolve_source

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus folder {CORPUS} is absent")


class Mirror:
    """A tiny Gutenberg mirror: `files` maps URL paths to (bytes, how many of them to send)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, int]] = {}
        self.requests: list[str] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                if self.path not in mirror.files:
                    self.send_error(404)
                    return
                data, sent = mirror.files[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:sent])  # fewer than announced: the connection drops mid-file

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, path: str, data: bytes, sent: int | None = None) -> None:
        self.files[path] = (data, len(data) if sent is None else sent)


@pytest.fixture
def mirror(monkeypatch) -> Iterator[Mirror]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a developer's proxy must not see the local server
    m = Mirror()
    thread = threading.Thread(target=m.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield m
    m.server.shutdown()
    m.server.server_close()


def corpus_bytes(name: str) -> bytes:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus folder {CORPUS} is absent")
    return (CORPUS / name).read_bytes()


def test_first_download_writes_the_cache_and_the_second_call_reuses_it(mirror, tmp_path):
    data = corpus_bytes("wonderland.txt")
    mirror.serve("/cache/epub/11/pg11.txt", data)
    path = resolve_source("gutenberg:11", cache_dir=tmp_path, mirror=mirror.url)
    assert path == tmp_path / "pg11.txt"
    assert path.read_bytes() == data
    assert mirror.requests == ["/cache/epub/11/pg11.txt"]
    assert resolve_source("gutenberg:11", cache_dir=tmp_path, mirror=mirror.url) == path
    assert mirror.requests == ["/cache/epub/11/pg11.txt"]  # no second request
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pg11.txt"]  # no temp file left


def test_read_book_gutenberg_uses_the_mirror_from_the_environment(mirror, tmp_path, monkeypatch):
    mirror.serve("/cache/epub/11/pg11.txt", corpus_bytes("wonderland.txt"))
    monkeypatch.setenv(MIRROR_ENV, mirror.url)
    book = read_book("gutenberg:11", cache_dir=tmp_path)
    assert book.name == "gutenberg:11" and book.path == tmp_path / "pg11.txt"
    assert book.stripped_gutenberg and len(book.text) == 142_957
    assert any("downloaded" in note for note in book.notes)
    again = read_book("gutenberg:11", cache_dir=tmp_path)
    assert again.text == book.text and not any("downloaded" in note for note in again.notes)
    assert len(mirror.requests) == 1


def test_falls_back_to_the_files_url(mirror, tmp_path):
    data = corpus_bytes("lookingglass.txt")
    mirror.serve("/files/12/12-0.txt", data)
    path = resolve_source("gutenberg:12", cache_dir=tmp_path, mirror=mirror.url)
    assert path.read_bytes() == data
    assert mirror.requests == ["/cache/epub/12/pg12.txt", "/files/12/12-0.txt"]


def test_not_found_is_one_line_naming_both_urls(mirror, tmp_path):
    with pytest.raises(CorpusError) as error:
        resolve_source("gutenberg:99999", cache_dir=tmp_path, mirror=mirror.url)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("gutenberg:99999: download failed")
    assert message.count("HTTP 404") == 2 and "/files/99999/99999-0.txt" in message
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_is_one_line(tmp_path):
    with socket.socket() as s:  # a port nobody listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CorpusError, match=r"^gutenberg:11: download failed .*[Rr]efused") as error:
        resolve_source("gutenberg:11", cache_dir=tmp_path / "cache", mirror=f"http://127.0.0.1:{port}")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "cache" / "pg11.txt").exists()


def test_interrupted_download_leaves_no_cache_file(mirror, tmp_path):
    data = corpus_bytes("wonderland.txt")
    mirror.serve("/cache/epub/11/pg11.txt", data, sent=len(data) // 3)
    with pytest.raises(CorpusError, match="gutenberg:11: download failed"):
        resolve_source("gutenberg:11", cache_dir=tmp_path, mirror=mirror.url)
    assert list(tmp_path.iterdir()) == []
    # The next try downloads the whole book.
    mirror.serve("/cache/epub/11/pg11.txt", data)
    assert resolve_source("gutenberg:11", cache_dir=tmp_path, mirror=mirror.url).read_bytes() == data


def test_html_page_is_not_cached_as_a_book(mirror, tmp_path):
    page = b"<!DOCTYPE html><html><body>Please verify you are human</body></html>"
    mirror.serve("/cache/epub/11/pg11.txt", page)
    with pytest.raises(CorpusError, match="HTML page"):
        resolve_source("gutenberg:11", cache_dir=tmp_path, mirror=mirror.url)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spec", ["gutenberg:abc", "gutenberg:", "gutenberg:0", "gutenberg:-3", "gutenberg:+5",
                                  "gutenberg:1.5"])
def test_bad_book_number_is_rejected_before_any_request(mirror, tmp_path, spec):
    with pytest.raises(CorpusError, match="must be a positive integer") as error:
        read_book(spec, cache_dir=tmp_path)
    assert str(error.value).startswith(f"{spec}: ")
    assert mirror.requests == []


def test_local_paths_pass_through(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_source("~/book.txt") == tmp_path / "book.txt"
    assert resolve_source("./gutenberg:11") == Path("./gutenberg:11")


def test_default_cache_dir_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "alice" / "gutenberg"
