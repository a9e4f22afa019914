"""Do the sentences make sense? Plain sampling and best-of-K side by side, judged by a grammar parser
(python bench/sense.py).

For one model (default: the bundled alice), 20 seeds x 1,000 characters at the default settings
(a length target that ends at a sentence end, as the bot writes), for plain sampling and for best-of-K
with K = 2, 4, 8, 16 and the product's default K (ALICE_BEST_OF), and for the books themselves (Wonderland's held-out
tail, cut as bench/quality.py cuts it, and Through the Looking-Glass):
- full parse: the share of sentences of 4-30 words that CMU's link grammar parser links completely,
  no word left out (bench/linkjudge.py; a bench dependency only: Debian `apt-get install
  python3-link-grammar`);
- distinct word pairs: distinct bigrams / bigrams in the first 2,500 words written (lower is more
  repetitive);
- mean sentence length in words, the share of sentences over 30 words (not judged), the share of all
  sentences of 4 or more words linked (those over 30 counted as not: run-ons are not sense either),
  and the share of continuations that end at a sentence end;
- chars/s of one stream and of 16 concurrent streams, and the delay to the first character after a
  short seed (median of a few).

Sentences: see `split_sentences`. The models write lowercase, and the parser does not know lowercase
names ("alice said nothing." fails, "Alice said nothing." links), so before judging, every sentence
(the books' too, read lowercased as the models are trained) is re-cased the same way: its first letter,
and the words the two books mostly spell capitalized (Alice, I, Queen, ...), and quotation marks dropped: see `Recaser`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Generator  # noqa: E402
from train.corpus import read_book  # noqa: E402
from train.data import split_texts  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
JUDGE = ROOT / "bench" / "linkjudge.py"
KS = (2, 4, 8, 16)
MIN_WORDS, MAX_WORDS = 4, 30  # sentences judged
PAIR_WORDS = 2500  # distinct word pairs are counted in the first this many words
SEEDS = [
    "", "alice was beginning to get very tired", "the queen said", "the mock turtle",
    "“who are you?” said the caterpillar", "the cheshire cat", "down the rabbit-hole", "the king and queen of hearts",
    "the duchess", "she went on", "the white rabbit", "the hatter", "the dormouse", "a large mushroom",
    "the garden", "the jury", "“what is the use of a book,” thought alice", "the march hare", "the gryphon",
    "the little door",
]
WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*", re.IGNORECASE)
CLOSERS = "”’\"')]"
# A sentence ends at . ! ? (closing quotes or brackets may follow) before white space or the end, and a
# blank line ends whatever came before it (a heading, a verse, a paragraph cut short).
_BOUNDARY = re.compile(r"(?P<mark>[.!?]+[" + re.escape(CLOSERS) + r"]*)(?=\s|$)|(?P<blank>\n[ \t]*\n\s*)")
_APOSTROPHE = re.compile(r"(?<=[a-z])’(?=[a-z])", re.IGNORECASE)  # don’t, alice’s
_QUOTES = re.compile("[“”‘’\"_]")  # quotation marks (the parser links "x," said y. badly) and _emphasis_
ABBREVIATIONS = {"mr", "mrs", "dr", "st", "messrs", "mme", "mlle", "esq", "vs", "etc", "viz", "no"}


# ----- the writer: the engine at one K ---------------------------------------------------------

@dataclass
class Writer:
    generator: Generator
    options: dict = field(default_factory=dict)  # extra keyword arguments of every stream


def default_best_of() -> int:
    """The product's default K (bot/settings.py, ALICE_BEST_OF)."""
    from bot.settings import Settings

    return Settings().best_of


def make_generator(model: str, best_of: int, precision: str = "auto") -> Writer:
    """A writer at `best_of` K (1 = plain sampling)."""
    return Writer(Generator(model, precision=precision), {"best_of": best_of})


def write(writer: Writer, seed: str, chars: int, rng_seed: int) -> str:
    """The continuation of `seed`, about `chars` characters ending at a sentence end (the default)."""
    return writer.generator.generate(seed, chars, rng_seed=rng_seed, exact=False, **writer.options)


# ----- sentences, words and the judge ---------------------------------------------------------

@dataclass
class Sentence:
    start: int
    end: int
    text: str  # white space runs made one space
    terminated: bool  # ends with . ! ? (else a blank line or the end of the text cut it)


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of `text`: a piece ends at . ! ? (closing quotes or brackets may follow) before
    white space or the end of the text, except a period after Mr, Mrs, Dr, St, ...; a blank line also
    ends a piece, unterminated. "...", and a ? or ! inside a quotation ("“who are you?” said the
    caterpillar.") end a sentence too: the books are split the same way, so the figures compare."""
    pieces, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if m.group("mark"):
            before = WORD.findall(text[max(start, m.start() - 12):m.start()])
            if m.group("mark") == "." and before and text[m.start() - 1].isalpha() and \
                    before[-1].lower() in ABBREVIATIONS:
                continue
            piece_end, terminated = m.end(), True
        else:
            piece_end, terminated = m.start(), False
        if text[start:piece_end].strip():
            pieces.append(Sentence(start, piece_end, " ".join(text[start:piece_end].split()), terminated))
        start = m.end()
    if text[start:].strip():
        pieces.append(Sentence(start, len(text), " ".join(text[start:].split()), False))
    return pieces


def ends_sentence(text: str) -> bool:
    """Whether `text` ends at a sentence end (a mark, then only closing quotes or brackets)."""
    return text.rstrip().rstrip(CLOSERS)[-1:] in {".", "!", "?"}


class Recaser:
    """Re-cases lowercase text for the parser: the words the books mostly spell with a capital get it."""

    def __init__(self, cased_text: str) -> None:
        counts: Counter = Counter(WORD.findall(cased_text))
        lower: Counter = Counter()
        capital: Counter = Counter()
        for word, n in counts.items():
            key = word.lower()
            if word == key:
                lower[key] += n
            elif word[0].isupper() and (len(word) == 1 or not word[1:].isupper()):  # "Alice", not "CHAPTER"
                capital[key] += n
        self.proper = {key for key, n in capital.items() if n > 2 * lower[key]}

    def is_proper(self, word: str) -> bool:
        """Whether the books mostly capitalize `word` or its stem before an apostrophe (queen's, i'm)."""
        key = word.lower()
        return key in self.proper or re.split("['’]", key)[0] in self.proper

    def __call__(self, sentence: str) -> str:
        """`sentence` as the parser reads it best: re-cased, apostrophes straight, quotation marks and the
        books' _emphasis_ marks dropped (the parser links “pepper, mostly,” said the cook. badly)."""
        sentence = _QUOTES.sub("", _APOSTROPHE.sub("'", sentence))
        cased = WORD.sub(lambda m: m.group().capitalize() if self.is_proper(m.group()) else m.group(), sentence)
        first = next((i for i, ch in enumerate(cased) if ch.isalpha()), None)
        return cased if first is None else cased[:first] + cased[first].upper() + cased[first + 1:]


def judge_python() -> str | None:
    """An interpreter that has the link grammar bindings: ALICE_LINK_PYTHON, this one, or the system's."""
    for python in (os.environ.get("ALICE_LINK_PYTHON"), sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if python and subprocess.run([python, "-c", "import linkgrammar"], capture_output=True).returncode == 0:
            return python
    return None


def judge(python: str, sentences: list[str]) -> tuple[list[bool], int]:
    """Whether the parser links each sentence completely, and how many it gave up on (bench/linkjudge.py)."""
    done = subprocess.run([python, str(JUDGE)], input="\n".join(sentences) + "\n", capture_output=True,
                          text=True, check=True)
    answer = json.loads(done.stdout)
    return answer["full"], answer["timeouts"]


@dataclass
class Figures:
    full_parse: float  # share of judged sentences linked completely
    judged: int  # sentences of MIN_WORDS-MAX_WORDS words
    timeouts: int
    pairs: float  # distinct bigrams / bigrams in the first PAIR_WORDS words
    sentence_words: float  # mean words per terminated sentence
    long: float  # share of terminated sentences over MAX_WORDS words (not judged)
    linked: float  # share of terminated sentences of MIN_WORDS or more linked (those over MAX_WORDS count as not)
    endings: float | None  # share of texts ending at a sentence end (continuations only)
    verdicts: list[tuple[str, bool]] = field(default_factory=list, repr=False)  # each judged sentence as parsed


def distinct_pairs(texts: list[str], seeds: list[str] | None = None) -> float:
    """The share of distinct word pairs among those of the first PAIR_WORDS words written in `texts`
    (each after its seed, if given: the seed's words are not counted)."""
    pairs, words_seen = [], 0
    for seed, text in zip(seeds or [""] * len(texts), texts, strict=True):
        written = [m.group().lower() for m in WORD.finditer(seed + text) if m.end() > len(seed)]
        written = written[:max(0, PAIR_WORDS - words_seen)]
        words_seen += len(written)
        pairs += list(zip(written, written[1:], strict=False))
    return len(set(pairs)) / max(1, len(pairs))


def figures(texts: list[str], seeds: list[str], recase: Recaser, python: str, endings: bool) -> Figures:
    """The sense figures of `texts`, each written after its seed: the sentences ending after the seed
    (one begun in the seed counts whole), the words written after it."""
    judged, lengths = [], []
    for seed, text in zip(seeds, texts, strict=True):
        for sentence in split_sentences(seed + text):
            if sentence.terminated and sentence.end > len(seed):
                n = len(WORD.findall(sentence.text))
                lengths.append(n)
                if MIN_WORDS <= n <= MAX_WORDS:
                    judged.append(recase(sentence.text))
    full, timeouts = judge(python, judged) if judged else ([], 0)
    return Figures(sum(full) / max(1, len(full)), len(full), timeouts, distinct_pairs(texts, seeds),
                   statistics.fmean(lengths) if lengths else math.nan,
                   sum(n > MAX_WORDS for n in lengths) / max(1, len(lengths)),
                   sum(full) / max(1, sum(n >= MIN_WORDS for n in lengths)),
                   sum(map(ends_sentence, texts)) / len(texts) if endings else None,
                   list(zip(judged, full, strict=True)))


# ----- speed ------------------------------------------------------------------------------------

async def _streams(writer: Writer, count: int, length: int) -> float:
    async def read(i: int) -> int:
        return sum([len(chunk) async for chunk in writer.generator.astream(
            f"{SEEDS[1 + i % (len(SEEDS) - 1)]}", length, rng_seed=i, exact=False, **writer.options)])

    start = time.perf_counter()
    written = sum(await asyncio.gather(*(read(i) for i in range(count))))
    return written / (time.perf_counter() - start)


def first_char_ms(writer: Writer, tries: int = 5) -> float:
    """Median delay from asking to the first character after a short seed, in ms."""
    delays = []
    for i in range(tries):
        start = time.perf_counter()
        stream = writer.generator.stream("the queen said", 200, rng_seed=i, exact=False, **writer.options)
        next(iter(stream))
        delays.append((time.perf_counter() - start) * 1000)
        stream.close()
    return statistics.median(delays)


# ----- the table --------------------------------------------------------------------------------

def cpu_description() -> str:
    """lscpu's model name, family and model, and the core count."""
    try:
        fields = dict(line.split(":", 1) for line in subprocess.run(["lscpu"], capture_output=True, text=True,
                                                                      check=True).stdout.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        return (f"{fields.get('Model name', '?')} (family {fields.get('CPU family', '?')} model "
                f"{fields.get('Model', '?')}), {os.cpu_count()} CPUs")
    except (OSError, subprocess.CalledProcessError):
        return f"unknown CPU, {os.cpu_count()} CPUs"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


HEADER = (f"{'text':<28} {'full parse':>10} {'judged':>6} {'pairs':>6} {'sent. words':>11} {'> 30':>5} "
          f"{'4+ linked':>9} {'end share':>9} {'1 stream c/s':>12} {'16 streams c/s':>14} {'first char ms':>13} "
          f"{'s':>5}")


def row(label: str, f: Figures, speeds: tuple[float, float, float] | None, seconds: float) -> str:
    endings = "-" if f.endings is None else f"{f.endings:.0%}"
    speed = "{:>12.0f} {:>14.0f} {:>13.1f}".format(*speeds) if speeds else f"{'-':>12} {'-':>14} {'-':>13}"
    timeouts = f" ({f.timeouts} timed out)" if f.timeouts else ""
    return (f"{label:<28} {f.full_parse:>10.1%} {f.judged:>6} {f.pairs:>6.3f} {f.sentence_words:>11.1f} "
            f"{f.long:>5.0%} {f.linked:>9.1%} {endings:>9} {speed} {seconds:>5.0f}{timeouts}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="alice", help="model folder or bundled model's name")
    parser.add_argument("--chars", type=int, default=1000, help="characters written per seed")
    parser.add_argument("--ks", default=",".join(map(str, KS)), help="best-of K values beside plain sampling")
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams in the throughput figure")
    parser.add_argument("--precision", default="auto", help="generation precision (auto's pick can change "
                        "between runs: pin it to compare runs)")
    parser.add_argument("--no-books", action="store_true", help="skip judging the books themselves")
    parser.add_argument("--dump", type=Path, help="write every text and each judged sentence's verdict to this "
                        "JSON file")
    args = parser.parse_args()
    python = judge_python()
    if python is None:
        print("needs CMU's link grammar parser for Python (Debian: apt-get install python3-link-grammar; "
              "or name an interpreter that has it in ALICE_LINK_PYTHON)", file=sys.stderr)
        return 2
    if not (CORPUS / "wonderland.txt").is_file():
        print(f"needs the corpus at {CORPUS}", file=sys.stderr)
        return 2
    print(f"CPU: {cpu_description()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load average {load_average()}")
    cased = read_book(str(CORPUS / "wonderland.txt"), lowercase=False, min_chars=2).text + \
        read_book(str(CORPUS / "lookingglass.txt"), lowercase=False, min_chars=2).text
    recase = Recaser(cased)
    print(f"judge: link grammar (English) in {python}; sentences of {MIN_WORDS}-{MAX_WORDS} words; "
          f"{len(SEEDS)} seeds x {args.chars:,} characters, default settings; {len(recase.proper)} words re-cased")
    print(HEADER)
    dump: dict[str, dict] = {}
    if not args.no_books:
        book = read_book(str(CORPUS / "wonderland.txt"), lowercase=True, min_chars=2).text
        text, start, end = split_texts([book], 0.1)[1][0]
        glass = read_book(str(CORPUS / "lookingglass.txt"), lowercase=True, min_chars=2).text
        for label, held_out in (("book: Wonderland tail", text[start:end]), ("book: Looking-Glass", glass)):
            started = time.perf_counter()
            f = figures([held_out], [""], recase, python, endings=False)
            dump[label] = {"verdicts": f.verdicts}
            print(row(label, f, None, time.perf_counter() - started), flush=True)
    default = default_best_of()
    ks = [1, *(int(k) for k in args.ks.split(",") if k.strip())]
    if default not in ks:
        ks.append(default)
    labels = [(k, ("plain (K=1)" if k == 1 else f"best of {k}") + (" (default)" if k == default else "")) for k in ks]
    for k, label in labels:
        writer = make_generator(args.model, k, args.precision)
        with writer.generator:
            started = time.perf_counter()
            texts = [write(writer, seed, args.chars, rng_seed) for rng_seed, seed in enumerate(SEEDS, start=1)]
            written = time.perf_counter() - started
            speeds = (asyncio.run(_streams(writer, 1, args.chars)), asyncio.run(_streams(writer, args.streams,
                      args.chars // 2)), first_char_ms(writer))
        f = figures(texts, SEEDS, recase, python, endings=True)
        dump[label] = {"texts": list(zip(SEEDS, texts, strict=True)), "verdicts": f.verdicts}
        print(row(label, f, speeds, written), flush=True)
    print(f"load average at the end {load_average()}; 's' = seconds to write the 20 continuations (books: to judge)")
    if args.dump:
        args.dump.write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
