"""The model behind the terminal front end: opened once, in the background for the REPL, swappable.

torch is imported only here, on first use, so that the prompt (or `--help`) appears at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.settings import Settings


class ModelLoadError(Exception):
    """A model folder or device cannot be used; the message is one line for the user."""


def generator_from_settings(settings: Settings, model: Path | str | None = None) -> Any:
    """An `engine.Generator` for the model folder `model` (default: the settings' model, else the
    bundled one), on the settings' device and precision, with their seed limit and state cache. The
    engine's errors as they are (see open_generator for the terminal's one-line ones)."""
    from engine.generator import Generator  # imports torch, ~1 s: why this is not called at start-up
    from engine.modelfolder import BUNDLED_MODEL

    path = model or settings.model
    return Generator(Path(path).expanduser() if path else BUNDLED_MODEL, device=settings.device,
                     max_seed_chars=settings.max_seed_chars, precision=settings.precision,
                     state_cache_bytes=int(settings.state_cache_mb * 2**20))


def open_generator(settings: Settings, model: str | None = None) -> Any:
    """An `engine.Generator` for `model` (default: the settings' model, else the bundled one).
    Raises ModelLoadError for a missing or corrupt folder or an unusable device."""
    from engine.modelfolder import ModelFolderError

    device = settings.device
    try:
        return generator_from_settings(settings, model)
    except (ModelFolderError, ValueError) as exc:  # ValueError: a CUDA device with no GPU, a precision it lacks
        raise ModelLoadError(str(exc)) from None
    except (RuntimeError, AssertionError) as exc:  # torch's way of saying "no such device"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"device {device}: {first}") from None


def close_generator(generator: Any) -> None:
    """Stop a generator's worker thread (a stand-in without `close`, as tests use, is left alone)."""
    close = getattr(generator, "close", None)
    if close is not None:
        close()


class ModelSlot:
    """Holds the REPL's generator. The first one loads in a background thread so that the prompt
    shows within a second; `wait()` blocks (interruptibly) until it is there or has failed."""

    def __init__(self, settings: Settings, opener: Callable[..., Any] = open_generator,
                 on_loaded: Callable[[str | None], None] | None = None) -> None:
        self.settings = settings
        self.generator: Any = None
        self.error: str | None = None
        self._opener = opener
        self.on_loaded = on_loaded or (lambda error: None)  # called with the error, or None
        self._ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._load_first, name="alice-loader", daemon=True).start()

    def _load_first(self) -> None:
        try:
            self.generator = self._opener(self.settings)
        except ModelLoadError as exc:
            self.error = str(exc)
        except Exception as exc:  # a background thread must not die without a word
            self.error = f"{type(exc).__name__}: {exc}"
        self._ready.set()
        self.on_loaded(self.error)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def status(self) -> str:
        """A few words for the toolbar."""
        if not self.ready:
            return "loading…"
        return self.generator.loaded.name if self.generator is not None else "no model"

    def wait(self) -> Any:
        """The generator once loading has finished (None if it failed); Ctrl-C interrupts."""
        while not self._ready.wait(0.1):  # short waits keep KeyboardInterrupt prompt
            pass
        return self.generator

    def replace(self, model: str) -> Any:
        """Load another model folder; on failure (ModelLoadError) the current one stays."""
        self.wait()
        new = self._opener(self.settings, model)
        old, self.generator, self.error = self.generator, new, None
        if old is not None:
            close_generator(old)
        return new

    def close(self) -> None:
        if self.ready and self.generator is not None:
            close_generator(self.generator)
