"""Fixtures shared by the engine's test modules."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch

from engine import Generator
from engine.modelfolder import BUNDLED_MODEL, LoadedModel, load_model_folder
from engine.steps.build import unavailable

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
# text the lexicon tests look for in a model's lexicon.txt (tests/test_lexicon.py)
EXTRA = ("\n\nThe White Rabbit ran down the rabbit-hole; the Gryphon wouldn't co-operate, and Alice didn’t "
         "mind. In 1865 the 3rd Queen said: “Don't!” Then she said don’t again.\n") * 8


@pytest.fixture(scope="session", autouse=True)
def torch_threads_for_the_session():
    """The test process computes with one torch thread, as the generator's worker does on 2 cores. On a
    shared 2-core machine a second OpenMP thread waits for a busy core: a fixture's few seconds of
    training or a test's scoring took minutes. Subprocesses keep torch's default; a test about the
    threads sets its own count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


def train_in_process(args: list[str], cache: Path) -> None:
    """`python -m train ARGS` run in this process (tests/test_train.py's train_here: no 8 s start of
    python, torch and matplotlib), with a private token cache."""
    from test_train import train_here

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        code, err = train_here(*args)
    assert code == 0, err[-2000:]


def needs_corpus_here() -> None:
    """Skip the test that asked for a model of the shared corpus where the corpus is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus folder {CORPUS} is absent")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A small real model, trained once per session: TINY (tests/test_train.py) from scratch, half an
    epoch of wonderland.txt, in a folder named base (what the fine-tuning tests call it). Tests read it
    or copy it; none may change it."""
    needs_corpus_here()
    from test_train import TINY

    folder = tmp_path_factory.mktemp("shared") / "base"
    train_in_process([str(CORPUS / "wonderland.txt"), "--out", str(folder), "--epochs", "0.5", "--eval-every", "100",
                      *TINY], tmp_path_factory.mktemp("cache"))
    return folder


@pytest.fixture(scope="session")
def cased_book(tmp_path_factory) -> Path:
    """The start of Alice with EXTRA's words: hyphens, both apostrophes, digits, capitals."""
    needs_corpus_here()
    path = tmp_path_factory.mktemp("book") / "alice-start.txt"
    path.write_text((CORPUS / "wonderland.txt").read_text(encoding="utf-8-sig")[:40_000] + EXTRA, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def cased_tiny(tmp_path_factory, cased_book: Path) -> Path:
    """A barely trained model of `cased_book` that keeps case, trained once per session: its own
    spelling is mostly nonsense (tests/test_lexicon.py, tests/test_words_option.py). Read or copy it."""
    from test_train import TINY

    out = tmp_path_factory.mktemp("tiny") / "tiny"
    train_in_process([str(cased_book), "--out", str(out), "--epochs", "0.3", "--keep-case", *TINY],
                     tmp_path_factory.mktemp("cache"))
    return out
