"""Fixtures shared by the engine's test modules."""

from __future__ import annotations

import signal

import pytest
import torch

from engine import Generator
from engine.modelfolder import BUNDLED_MODEL, LoadedModel, load_model_folder
from engine.steps.build import unavailable


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


@pytest.fixture(scope="module")
def int8_gen(loaded: LoadedModel):
    """A Generator of the bundled model in int8 (skipped where this machine has no int8 kernels)."""
    if unavailable("int8", torch.device("cpu")):
        pytest.skip(f"int8: {unavailable('int8', torch.device('cpu'))}")
    with Generator(loaded, precision="int8") as generator:
        yield generator


@pytest.fixture
def ctrl_c_reaches_children():
    """Programs a test starts get Ctrl-C (SIGINT) as from a user's terminal. A shell starts a
    background job (`pytest &`, some CI runners) with SIGINT ignored, every child inherits that, and
    Python then leaves it ignored, so Ctrl-C tests would fail there for no fault of the program; a
    handler, unlike "ignored", is reset to the default in a child."""
    before = signal.getsignal(signal.SIGINT)
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
