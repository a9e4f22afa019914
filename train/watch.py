"""`--progress-json`: one JSON line on stdout per evaluation and about once a second between them,
for a program that runs the training as a child and shows its progress (the bot's `!learn`).

A line: {"step": 40, "progress": 0.185, "seconds": 31.2, "train_bpc": 1.71, "best_bpc": 1.62}
(`progress` in [0, 1] of the run's stopping budget; `best_bpc` null until an evaluation exported a
model; evaluations add "val_bpc"). Nothing else is ever printed on stdout. The watching program
owns the run: when it is gone (this process has a new parent), the run stops as on Ctrl-C.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

EVERY_S = 1.0  # between two lines written between evaluations


class JsonProgress:
    """Writes the progress lines when enabled; does nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0
        self._parent = os.getppid()

    def report(self, step: int, progress: float, seconds: float, train_bpc: float, best_bpc: float,
               val_bpc: float | None = None) -> None:
        """One line now if it is an evaluation (`val_bpc` given) or EVERY_S has passed since the last."""
        now = time.monotonic()
        if not self.enabled or (val_bpc is None and now - self._last < EVERY_S):
            return
        self._last = now
        if os.getppid() != self._parent:
            raise KeyboardInterrupt  # the watcher died: nobody would publish this run
        line = {"step": step, "progress": round(min(progress, 1.0), 4), "seconds": round(seconds, 1),
                "train_bpc": round(train_bpc, 4), "best_bpc": round(best_bpc, 4) if math.isfinite(best_bpc) else None}
        if val_bpc is not None:
            line["val_bpc"] = round(val_bpc, 4)
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
