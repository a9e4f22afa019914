"""The loss history of a run: history.csv (rewritten atomically) and, with matplotlib, loss.png."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from engine.modelfolder import write_atomic

HISTORY = "history.csv"
LN2 = math.log(2)


def write_history(rows: list[dict], csv_path: Path, png_path: Path) -> None:
    """One row per evaluation; the PNG only when the optional matplotlib is installed."""
    if not rows:
        return
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(csv_path, text.getvalue().encode())
    plot_history(rows, png_path)


def plot_history(rows: list[dict], path: Path) -> None:
    """A loss-curve PNG, when the optional matplotlib is installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["train_loss"] / LN2 for r in rows], label="train")
    ax.plot(steps, [r["val_bpc"] for r in rows], label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
