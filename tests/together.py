"""Many samples in the time of a few: streams written side by side in one batch."""

from __future__ import annotations

import asyncio

from engine import Generator


def write_together(generator: Generator, jobs: list[dict]) -> list[str]:
    """`generator.generate(**job)` for every job, the streams written side by side in one batch: many
    samples in the time of a few. A stream writes the same text alone or batched (tests/test_generator.py
    and tests/test_sentences.py check it), so a test about what samples say may read them this way."""
    async def read(job: dict) -> str:
        return "".join([chunk async for chunk in generator.astream(**job)])

    async def main() -> list[str]:
        return await asyncio.gather(*(read(job) for job in jobs))
    return asyncio.run(main())
