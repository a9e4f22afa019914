"""Opening a model folder as a Generator with the settings' device, precision and limits (both front ends).

torch is imported only here, on first use, so that the prompt (or `--help`) appears at once.
"""

from __future__ import annotations

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
