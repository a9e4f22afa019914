"""Fixtures shared by the engine's test modules."""

from __future__ import annotations

import pytest
import torch

from engine.modelfolder import BUNDLED_MODEL, LoadedModel, load_model_folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """On a shared 2-core machine a second OpenMP thread waits for a busy core (tens of ms per
    step); one thread keeps the timing tests about the engine, not the neighbours. A module that
    wants it says `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    """The bundled Alice model, loaded once per module."""
    return load_model_folder(BUNDLED_MODEL)
