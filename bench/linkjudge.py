"""The grammar judge of bench/sense.py: does CMU's link grammar parser link a sentence completely?

Reads one sentence a line on stdin and writes one JSON object on stdout: {"full": [true|false, ...],
"timeouts": N, "version": "..."}, one entry per line read. "Full" means the English dictionary links
every word (a linkage with null count 0: no word left out); a sentence the parser gives up on within
MAX_PARSE_S counts as not full.

It runs in a Python that has the parser's bindings, apart from the project's: the parser is a bench
dependency only, never the product's. Debian: `apt-get install python3-link-grammar`, then bench/
sense.py finds it in /usr/bin/python3 (or name the interpreter in ALICE_LINK_PYTHON).
"""

from __future__ import annotations

import json
import os
import sys

# Linkages sampled per sentence: a sampled linkage can fail the parser's post-processing, so one sample
# would call a good sentence unlinked ("What do you know about this business?" with 1); 100 is the default.
LINKAGES = 100
MAX_PARSE_S = 10  # a long sentence can take seconds; the prototype's few time-outs were all garbled


def main() -> int:
    # the parser's C library prints notes on stdout: the answer goes to the real stdout, all else to stderr
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    import linkgrammar as lg

    dictionary = lg.Dictionary("en")
    options = lg.ParseOptions(min_null_count=0, max_null_count=0, linkage_limit=LINKAGES, max_parse_time=MAX_PARSE_S,
                              verbosity=0)
    full, timeouts = [], 0
    for line in sys.stdin.read().splitlines():
        try:
            full.append(len(lg.Sentence(line, dictionary, options).parse()) > 0)
        except lg.LG_TimerExhausted:
            full.append(False)
            timeouts += 1
        except lg.LG_Error:  # a sentence the tokenizer cannot take at all
            full.append(False)
    json.dump({"full": full, "timeouts": timeouts, "version": lg.__version__}, answer)
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
