"""`python -m train.shrink MODEL_DIR [TEXT ...]`: store a model's weights as float16 (half the bytes).

The engine upcasts to float32 at load, so only storage changes; the bits per character on each TEXT
before and after are printed so that the cost is measured, not assumed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from engine.modelfolder import FORMAT_VERSION, WEIGHTS, ModelFolderError, read_model_info, resolve_model_dir
from train.gutenberg import CorpusError


def shrink(model_dir: Path) -> tuple[int, int]:
    """Rewrite model.safetensors in float16 (atomically); returns its size (bytes) before and after."""
    path = Path(model_dir) / WEIGHTS
    before = path.stat().st_size
    weights = load_file(str(path))
    half = {name: tensor.to(torch.float16).contiguous() for name, tensor in weights.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(half, str(tmp), metadata={"format_version": str(FORMAT_VERSION), "storage": "float16"})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    return before, path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.shrink", description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", help="model folder (or a bundled model's name)")
    parser.add_argument("texts", nargs="*", help="text files to score before and after")
    args = parser.parse_args(argv)
    from train.eval import bits_per_char

    folder = resolve_model_dir(args.model_dir)
    try:
        before = [bits_per_char(folder, text)[0] for text in args.texts]
        size_before, size_after = shrink(folder)
        after = [bits_per_char(folder, text)[0] for text in args.texts]
    except (ModelFolderError, CorpusError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{folder / WEIGHTS}: {size_before:,} -> {size_after:,} bytes")
    for text, old, new in zip(args.texts, before, after, strict=True):
        print(f"{text}: {old:.4f} -> {new:.4f} bits/char ({new - old:+.4f})")
    measured = sorted((read_model_info(folder)[1].get("metrics") or {}).get("precision") or {})
    if measured:  # bound to the old file's sha256 (engine/costs.py)
        print(f"precision costs recorded on the old weights ({', '.join(measured)}) no longer count: "
              f"python -m train.eval {args.model_dir} FILE --precision P --record measures them again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
