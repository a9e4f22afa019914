"""The model folder: model.safetensors + vocab.json + config.json, written and validated.

This is the contract between training and serving (see DESIGN.md). Nothing here unpickles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.casing import CASING, Casing, read_casing
from engine.lexicon import GUIDE_MAX_BYTES, LEXICON, Lexicon, LexiconError, WordGuide
from engine.model import CharLSTM, ModelConfig, flush_denormals
from engine.vocab import Vocab, VocabError

FORMAT_VERSION = 1
WEIGHTS, VOCAB, CONFIG = "model.safetensors", "vocab.json", "config.json"
BUNDLED_MODELS = Path(__file__).resolve().parent / "models"  # one folder per model shipped in the package
BUNDLED_MODEL = BUNDLED_MODELS / "alice"  # the default model
log = logging.getLogger(__name__)


class ModelFolderError(Exception):
    """A model folder is missing, unreadable or inconsistent; the message names file and fault."""


@dataclass
class LoadedModel:
    """A model ready to generate: the network (eval mode, on `device`), its vocab and config, and its
    lexicon (None for a folder without lexicon.txt, or one too big to guide: it samples freely, and
    `lexicon_note` says why)."""

    model: CharLSTM
    vocab: Vocab
    config: dict
    path: Path
    device: torch.device
    lexicon: Lexicon | None = None
    lexicon_note: str = ""  # why there is no lexicon to keep to, when there is a lexicon.txt
    casing: Casing | None = None  # how the book prints its words (casing.txt; engine/casing.py)
    casing_note: str = ""  # why there is none: streams then case sentence starts and "I" only

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.path.name)

    @cached_property
    def weights_sha256(self) -> str:
        """The sha256 of model.safetensors: what recorded precision costs are bound to (engine/costs.py);
        "" when the file cannot be read now."""
        digest = hashlib.sha256()
        try:
            with open(self.path / WEIGHTS, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return ""
        return digest.hexdigest()

    @cached_property
    def guide(self) -> WordGuide | None:
        """The lexicon compiled for guided sampling (built on first use, a few tenths of a second for
        the bundled one); None without a lexicon, or with one this vocabulary cannot spell a word of."""
        guide = WordGuide.build(self.lexicon, self.vocab) if self.lexicon else None
        return guide if guide is not None and guide.words else None


def recorded_corpus(config: dict) -> str | None:
    """The book a model learnt, as its config.json names it (None when it is not recorded); a
    library of many books is named by its count and first titles."""
    corpus = config.get("corpus")
    books = corpus.get("books") if isinstance(corpus, dict) else None
    if isinstance(books, list) and len(books) > 3:
        names = [Path(str(b.get("name", "?"))).name for b in books[:2] if isinstance(b, dict)]
        return f"{len(books)} books ({', '.join(names)}, ...)"
    name = corpus.get("name") if isinstance(corpus, dict) else corpus
    return str(name) if name else None


def recorded_base(config: dict) -> str | None:
    """What a model was fine-tuned from, as config.json records it: 'library (126 books)'; None for a
    model trained from scratch."""
    base = config.get("base")
    if not isinstance(base, dict):
        return None
    books = base.get("books")
    count = f" ({len(books)} book{'s' if len(books) != 1 else ''})" if isinstance(books, list) and books else ""
    return f"{base.get('name') or 'a model'}{count}"


def recorded_bpc(config: dict) -> float | None:
    """The held-out bits per character recorded at training (None when not measured)."""
    metrics = config.get("metrics")
    bpc = metrics.get("best_val_bpc") if isinstance(metrics, dict) else None
    return float(bpc) if isinstance(bpc, (int, float)) else None


def pick_device(name: str | torch.device) -> torch.device:
    """"auto" means the GPU when there is one; asking for CUDA without one is a ValueError."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(name)!r}: no CUDA GPU is available")
    return device


def default_model_dir() -> Path:
    """The model to use when none is named: $ALICE_MODEL, else the bundled Alice model."""
    env = os.environ.get("ALICE_MODEL", "").strip()
    return resolve_model_dir(env) if env else BUNDLED_MODEL


def resolve_model_dir(name: str | Path) -> Path:
    """A model folder path as given, or the bundled model of that name ("alice", "library") when no
    such folder exists here."""
    path = Path(name).expanduser()
    bundled = BUNDLED_MODELS / str(name)
    if not path.exists() and path.name == str(name) and (bundled / CONFIG).is_file():
        return bundled
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once (temp file + rename): readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_model_folder(directory: Path, model: CharLSTM, vocab: Vocab, config: dict,
                      lexicon: Lexicon | None = None, casing: Casing | None = None) -> Path:
    """Write the files of a model folder (each atomically). `config` holds everything beyond the
    architecture: training, corpus, metrics; `lexicon`, when given, becomes lexicon.txt, `casing` casing.txt."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if len(vocab) != model.config.vocab_size:
        raise ModelFolderError(f"vocab has {len(vocab)} characters but the model expects {model.config.vocab_size}")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    tmp = directory / (WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"format_version": str(FORMAT_VERSION)})
    os.chmod(tmp, 0o644)
    os.replace(tmp, directory / WEIGHTS)
    write_atomic(directory / VOCAB, json.dumps(vocab.to_json(), ensure_ascii=False, indent=1).encode())
    full = {"format_version": FORMAT_VERSION, **config, "architecture": model.config.to_json()}
    write_atomic(directory / CONFIG, json.dumps(full, ensure_ascii=False, indent=2).encode())
    if lexicon is not None:
        write_atomic(directory / LEXICON, lexicon.to_text().encode())
    if casing is not None:
        write_atomic(directory / CASING, casing.to_text().encode())
    return directory


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelFolderError(f"{path}: expected a JSON object")
    return data


def read_model_info(directory: Path) -> tuple[Vocab, dict]:
    """vocab.json and config.json of a folder, checked against each other (weights not read)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFolderError(f"{directory}: no such model folder")
    config = _read_json(directory / CONFIG)
    try:
        vocab = Vocab.from_json(_read_json(directory / VOCAB))
    except VocabError as exc:
        raise ModelFolderError(f"{directory / VOCAB}: {exc}") from None
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFolderError(f"{directory / CONFIG}: format_version {version!r}, this alice reads {FORMAT_VERSION}")
    arch = config.get("architecture")
    if not isinstance(arch, dict):
        raise ModelFolderError(f"{directory / CONFIG}: no 'architecture' object")
    try:
        ModelConfig.from_json(arch)
    except (TypeError, ValueError) as exc:
        raise ModelFolderError(f"{directory / CONFIG}: bad architecture ({exc})") from None
    if arch.get("vocab_size") != len(vocab):
        raise ModelFolderError(f"{directory / CONFIG}: vocab_size {arch.get('vocab_size')} but "
                               f"{VOCAB} has {len(vocab)} characters")
    return vocab, config


def load_model_folder(directory: Path | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    """Load and validate a model folder; the model comes back in eval mode on `device`."""
    directory = resolve_model_dir(directory) if directory is not None else default_model_dir()
    vocab, config = read_model_info(directory)
    arch = ModelConfig.from_json(config["architecture"])
    weights_path = directory / WEIGHTS
    if not weights_path.is_file():
        raise ModelFolderError(f"{weights_path}: missing")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFolderError(f"{weights_path}: unreadable, truncated or not safetensors ({exc})") from None
    model = CharLSTM(arch)
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise ModelFolderError(f"{weights_path}: tensors do not match config.json "
                               f"(missing {missing}, unexpected {extra})")
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            what = "vocab.json/config.json" if name in ("embed.weight", "head.weight", "head.bias") else CONFIG
            raise ModelFolderError(f"{weights_path}: {name} has shape {tuple(state[name].shape)} but "
                                   f"{what} implies {tuple(tensor.shape)}")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    flush_denormals()  # the thread that loads is the one that runs the model (the Generator's worker)
    device = pick_device(device)
    model.to(device).eval()
    note = lexicon_too_big(directory)
    if note:
        log.warning(note)
    casing, casing_note = read_casing(directory, vocab.chars) if vocab.lowercase else (None, "")
    if casing is None and (directory / CASING).exists():
        log.warning(casing_note)  # damaged, too big, another model's: one line, and generation goes on
    return LoadedModel(model=model, vocab=vocab, config=config, path=directory, device=device,
                       lexicon=None if note else read_lexicon(directory), lexicon_note=note,
                       casing=casing, casing_note=casing_note)


def lexicon_too_big(directory: Path) -> str:
    """One line when a folder's lexicon.txt is over GUIDE_MAX_BYTES (checked before reading it), else ""."""
    try:
        size = (Path(directory) / LEXICON).stat().st_size
    except OSError:
        return ""
    if size <= GUIDE_MAX_BYTES:
        return ""
    return (f"{Path(directory) / LEXICON}: {size / 2**20:.1f} MB, over the {GUIDE_MAX_BYTES // 2**20} MB a word "
            f"guide is built for; words are free")


def read_lexicon(directory: Path) -> Lexicon | None:
    """A folder's lexicon.txt, or None when it has none (folders made before lexicons existed).
    A damaged one raises ModelFolderError naming the file and the line."""
    path = Path(directory) / LEXICON
    if not path.exists():
        return None
    try:
        return Lexicon.read(path)
    except LexiconError as exc:
        raise ModelFolderError(str(exc)) from None
