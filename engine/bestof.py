"""Best-of-K's numbers, for every front end (CLI `--best-of`, ALICE_BEST_OF, the REPL's /best,
Discord's --best and /info): the default K, its bounds and their message, here only. No torch:
bot/settings.py imports this at start-up.

K = 16: bench/sense.py (blind reads side by side: more candidates make more sense), held to speed by
bench/generate_speed.py; docs/sense.md has both. The engine's own `Sampling()` stays plain sampling
(K = 1): a library caller asks for best-of, the product's front ends ask for this default.
"""

from __future__ import annotations

DEFAULT_BEST_OF = 16
MIN_BEST_OF, MAX_BEST_OF = 1, 64  # candidates per sentence: each is a row of the batch
BEST_OF_RULE = f"must be a whole number from {MIN_BEST_OF} (plain sampling) to {MAX_BEST_OF}"


def best_of_allowed(value: object) -> bool:
    """Whether `value` is a K every front end takes (see BEST_OF_RULE)."""
    return isinstance(value, int) and not isinstance(value, bool) and MIN_BEST_OF <= value <= MAX_BEST_OF


# The load rule (a busy channel): streams writing at once share BUSY_ROWS candidate rows. A stream
# alone writes at the default K; beside others at K or BUSY_ROWS // streams, whichever is lower, never
# below BUSY_FLOOR (at K = 16: 1-2 streams 16, 3 streams 10, 4 or more 8). Only the default is
# lowered: a K asked for (--best, /best) is written as asked. bench/bestof_speed.py measures four
# streams at once.
BUSY_ROWS = 32
BUSY_FLOOR = 8


def best_of_in_use(default: int, streams: int) -> int:
    """The K a stream asking for the default writes at while `streams` streams (itself included) write."""
    if streams <= 1:
        return default
    return min(default, max(BUSY_FLOOR, BUSY_ROWS // streams))
