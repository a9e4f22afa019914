"""The generator worker's torch thread count: the machine's cores less one, left to the readers."""

from __future__ import annotations

import os

import torch


def worker_threads() -> tuple[int, str]:
    """Set the calling (worker) thread's torch intra-op threads to torch's default less one core, left
    to the readers (the event loop, the terminal), and say so. Only this thread's setting changes
    (OpenMP keeps it per thread; but PyTorch starts a thread that has not run torch yet with the last
    count set, which is why the Generator fixes its caller's first). Why: a worker using every core
    shares them with the reading thread, and both slow down (bench/generate_speed.py measures it)."""
    default = torch.get_num_threads()
    threads = max(1, min(default, (os.cpu_count() or 1) - 1))
    torch.set_num_threads(threads)
    plural = "s" if threads > 1 else ""
    return threads, f"{threads} torch thread{plural} (one of {os.cpu_count()} cores left to the readers)"
