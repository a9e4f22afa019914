"""The terminal's model: opened in the background while the first prompt is up, and swappable (/model)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bot.model_loading import ModelLoadError, close_generator, open_generator
from bot.settings import Settings


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
