"""Full training state in one safetensors file (tensors + JSON metadata), written atomically.

No pickle: optimiser state is flattened into named tensors, everything else is JSON. A kill -9
during a write leaves the previous checkpoint untouched (temp file, fsync, rename).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

CHECKPOINT = "checkpoint.safetensors"


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable or does not match this run."""


@dataclass
class TrainState:
    """What --resume needs beyond model and optimiser tensors."""

    step: int = 0
    seconds: float = 0.0  # training wall-clock seconds so far (across resumes)
    epoch: int = 0
    step_in_epoch: int = 0
    best_val_loss: float = float("inf")
    best_step: int = 0
    evals_since_best: int = 0
    history: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    world: int = 1  # processes that trained (streams are cut per process)
    steps_per_epoch: int = 0


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: TrainState,
                    carried: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
    """Write model, optimiser, RNG and loop state to `path` atomically."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, slots in opt["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{pid}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    if carried is not None:
        tensors["carry.h"], tensors["carry.c"] = (t.detach().cpu().contiguous() for t in carried)
    meta = {"state": json.dumps(state.__dict__), "param_groups": json.dumps(opt["param_groups"])}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    device: torch.device) -> tuple[TrainState, tuple[torch.Tensor, torch.Tensor] | None]:
    """Restore model, optimiser and RNG states from `path`; returns loop state and carried LSTM state."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        state = TrainState(**json.loads(meta["state"]))
        groups = json.loads(meta["param_groups"])
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint to resume from") from None
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({exc})") from None
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise CheckpointError(f"{path}: does not fit this model ({first})") from None
    slots: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            slots.setdefault(int(pid), {})[name] = value.to(device) if value.dim() else value
    optimizer.load_state_dict({"state": slots, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    carried = (tensors["carry.h"].to(device), tensors["carry.c"].to(device)) if "carry.h" in tensors else None
    return state, carried


def read_checkpoint_settings(path: Path) -> dict:
    """The settings a checkpointed run was started with (reads metadata only)."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(json.loads((fh.metadata() or {})["state"])["settings"])
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint to resume from") from None
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({exc})") from None
