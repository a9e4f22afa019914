"""`python bench/dialogue.py`: how well the bundled alice answers when spoken to.

20 questions to each of 5 of the book's characters (and one the book does not have), each asked in
the same story, one after another, at the product's default settings. Prints, per character and
in all: the share of answers that are the named character's closed, attributed quotation; how the
speech ended (closed by the model, or by the engine after the sentence limit, a paragraph break,
the length cap); answer length; and, read by the grammar judge that bench/sense.py uses (never the
product), the linked share of the answers' sentences beside plain story continuations of the same
stories at the same settings, and beside the book's own speech (Through the Looking-Glass, never
read by any model) framed and read as the answers are, with distinct word pairs; and voice: the share
of answers whose words are closer to their own character's speech in Wonderland than to the other
characters' (bench/voice.py), beside the book's own speeches read the same way. Then speed: chars/s
of one answer stream (ten questions asked one after another in one story, as a conversation goes) and
of 16 at once, the first character of an answer's speech after the question, and the pause between
the attribution and the speech going on after it.
`--sets 4` asks every question four times over (rng seeds 0-19, 1000-1019, 2000-2019, 3000-3019 for the
first character, 100 more for each next: every character its own draws, as every reply has in use):
one set's linked share moves by up to 12 points from set to set. `alike` asks the first five
questions of every character with the same draws, and counts the answers another character gave too.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from sense import (  # noqa: E402 (a bench script beside sense.py)
    CORPUS,
    WORD,
    Recaser,
    cpu_description,
    default_best_of,
    distinct_pairs,
    figures,
    judge_python,
    load_average,
)
from voice import Voices  # noqa: E402 (bench/voice.py)

from engine import Conversation, Generator  # noqa: E402
from engine.dialogue import (  # noqa: E402
    ANSWER_OPENING,
    CLOSE,
    OPEN,
    Address,
    Answer,
    attribution,
    read_cast,
    said_line,
)
from engine.modelfolder import BUNDLED_MODEL  # noqa: E402

QUESTIONS = [
    "Who are you?", "Why is a raven like a writing-desk?", "Where are you going?", "I am quite lost.",
    "What is the time?", "Will you play croquet with me?", "Do you like tea?", "How old are you?",
    "Can you help me find the White Rabbit?", "Why are you so cross?", "What is your name?",
    "Is it always six o'clock here?", "What do you think of the Queen?", "May I sit down?",
    "Have you seen my sister?", "Tell me a story.", "What is a lobster quadrille?",
    "Why do you say that?", "Are you mad?", "Good-bye!",
]
OPENING = "alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do."
OUTSIDER = "the Dragon"


def ask_all(gen: Generator, character: str, best_of: int, questions: list[str],
            first_seed: int = 0) -> tuple[list[Answer], list[str]]:
    """The answers to `questions` asked one after another in one story (rng seeds from `first_seed` on),
    and the story before each answer (the person's line included: where a continuation would go on from)."""
    story, done, before = Conversation.of(OPENING), [], []
    cast = read_cast(BUNDLED_MODEL)
    for i, question in enumerate(questions):
        answer = Answer(gen, story, Address.of(question, character, cast), rng_seed=first_seed + i, best_of=best_of)
        "".join(answer)
        done.append(answer)
        before.append(story.text[: len(story.text) - len(answer.text)])
    return done, before


def attributed(answer: Answer) -> bool:
    """The named character's quotation, closed and attributed, and nothing else: `“...,” said the
    Hatter.`, or with the speech going on after it, `“...,” said the Hatter. “...”`."""
    speech = f"{OPEN}[^{OPEN}{CLOSE}\"]+{CLOSE}"
    said = re.escape(attribution(answer.address.character))
    return re.fullmatch(f"{speech}{said}(?: {speech})?", answer.text.strip()) is not None


def speech_of(answer: Answer) -> str:
    """The model's words in an answer: its speech without the marks and the engine's attribution. The
    judge reads the answer whole (its sentences with the attribution, as the story's dialogue is read);
    word pairs count the speech only (the attribution, the same in every answer, would count as repeats)."""
    return " ".join(re.findall(f"{OPEN}([^{CLOSE}]*){CLOSE}", answer.text))


def book_body(name: str) -> str:
    """A book of ../shared/corpus from its first chapter to Project Gutenberg's footer."""
    text = (CORPUS / name).read_text(encoding="utf-8-sig")
    return text[text.find("CHAPTER I"):text.find("*** END")]


def book_speech(count: int = 200) -> list[str]:
    """`count` quoted speeches of Through the Looking-Glass (15-200 characters, in a fixed shuffle),
    each framed as an answer is (`“...,” said the King.`)."""
    text = book_body("lookingglass.txt").lower()
    speeches = [m[1] for m in re.finditer(f"{OPEN}([^{CLOSE}]{{15,200}}){CLOSE}", " ".join(text.split()))]
    random.Random(1).shuffle(speeches)
    return [said_line(speech, "the King").strip() for speech in speeches[:count]]


def voice_line(answers: list[Answer], characters: list[str]) -> str:
    """How many answers sound like their own character rather than another (bench/voice.py), beside the
    book's own speeches read the same way and chance."""
    voices = Voices(book_body("wonderland.txt"), characters)
    share, placed = voices.in_voice([(a.address.character, speech_of(a)) for a in answers])
    own, speeches = voices.book_in_voice()
    return (f"voice: answers closest to their own character's speech in Wonderland {share:.1%} ({placed} placed); "
            f"the book's own speeches, each left out in turn, {own:.1%} ({speeches}); chance {1 / len(characters):.0%}")


def alike_line(gen: Generator, characters: list[str], best_of: int, questions: int = 5) -> str:
    """How much the character addressed changes an answer: the first `questions` questions asked of
    every character with the same rng seeds; the answers whose speech another character also gave."""
    speeches = [[speech_of(answer) for answer in ask_all(gen, name, best_of, QUESTIONS[:questions])[0]]
                for name in characters]
    alike = sum(speech in {other[i] for other in speeches[:k] + speeches[k + 1:]}
                for k, said in enumerate(speeches) for i, speech in enumerate(said))
    return (f"alike: {alike} of {len(characters) * questions} answers have the same speech as another character's "
            f"answer to the same question at the same rng seed")


def continuations(gen: Generator, contexts: list[str], answers: list[Answer], best_of: int) -> list[str]:
    """Plain story continuations from the places the answers were written, about as long as the answers."""
    return [gen.generate(context, max(80, len(answer.text)), rng_seed=100 + i, exact=False, best_of=best_of)
            for i, (context, answer) in enumerate(zip(contexts, answers, strict=True))]


def speed(gen: Generator, best_of: int, streams: int, rounds: int = 1) -> tuple[float, float, float]:
    """`streams` conversations at once, each asked `rounds` questions one after another (the story
    grows, as in use): (chars/s of answer text, the slowest conversation's median; median ms from a
    question to its speech's first character; median ms from the attribution to the speech going on
    after it: the second part's first best-of round)."""
    cast = read_cast(BUNDLED_MODEL)
    stories = [Conversation.of(OPENING) for _ in range(streams)]
    chars: list[list[float]] = [[] for _ in range(streams)]
    firsts: list[float] = []
    gaps: list[float] = []

    def one(i: int, round_: int) -> None:
        start = time.perf_counter()
        question = QUESTIONS[(i + round_ * streams) % len(QUESTIONS)]
        answer = Answer(gen, stories[i], Address.of(question, "the Hatter", cast), rng_seed=i + 100 * round_,
                        best_of=best_of)
        pieces, said_at = iter(answer), None
        count = len(next(pieces))
        for piece in pieces:
            now = time.perf_counter()
            if count == len(ANSWER_OPENING):  # the speech's first character
                firsts.append(now - start)
            if said_at is not None:
                gaps.append(now - said_at)
                said_at = None
            if piece.endswith(attribution("the Hatter")):
                said_at = now
            count += len(piece)
        chars[i].append(count / (time.perf_counter() - start))

    for round_ in range(rounds):
        threads = [threading.Thread(target=one, args=(i, round_)) for i in range(streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    slowest = min(statistics.median(each) for each in chars)
    return slowest, statistics.median(firsts) * 1000, statistics.median(gaps) * 1000 if gaps else math.nan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--best-of", type=int, default=None, help="K (default: the product's)")
    parser.add_argument("--questions", type=int, default=20, help="questions per character (up to 20)")
    parser.add_argument("--quick", action="store_true", help="5 questions a character, no 16-stream run")
    parser.add_argument("--sets", type=int, default=1,
                        help="ask every question this many times, with rng seeds 0-19, 1000-1019, ... (default 1; "
                             "the sets differ by up to 12 points of linked share: 4 gives the steadier figure)")
    parser.add_argument("--precision", default="int8",
                        help="the generation precision (default int8; auto would pick by the machine's load, "
                             "and its texts with it)")
    args = parser.parse_args()
    best_of = args.best_of or default_best_of()
    questions = QUESTIONS[: 5 if args.quick else args.questions]
    cast = read_cast(BUNDLED_MODEL)
    characters = [name for name in cast.names if name != cast.default_speaker()][:5] + [OUTSIDER]
    print(f"CPU: {cpu_description()}; load {load_average()}; best of {best_of}; {len(questions)} questions each, "
          f"{args.sets} set(s)")
    python = judge_python()
    recase = Recaser((CORPUS / "wonderland.txt").read_text(encoding="utf-8-sig")) if CORPUS.is_dir() else None
    all_answers, contexts, rows = [], [], []
    with Generator(BUNDLED_MODEL, precision=args.precision) as gen:
        print(f"precision {gen.precision.precision}")
        for index, character in enumerate(characters):
            started, answers = time.perf_counter(), []
            for first_seed in range(100 * index, 1000 * args.sets, 1000):  # each character its own draws
                asked, before = ask_all(gen, character, best_of, questions, first_seed)
                answers += asked
                contexts += before
            all_answers += answers
            ways = Counter(a.closed_by for a in answers)
            rows.append(f"{character:<18} {sum(map(attributed, answers)) / len(answers):>9.0%} "
                        f"{ways['model'] / len(answers):>8.0%} {ways['sentences'] / len(answers):>9.0%} "
                        f"{(ways['paragraph'] + ways['quote'] + ways['length'] + ways['stream']) / len(answers):>6.0%} "
                        f"{statistics.fmean(len(a.text.strip()) for a in answers):>6.0f} "
                        f"{time.perf_counter() - started:>5.0f} s")
        print(f"{'character':<18} {'attributed':>9} {'model ”':>8} {'sentences':>9} {'other':>6} {'chars':>6}")
        print("\n".join(rows))
        total = len(all_answers)
        print(f"in all: {sum(map(attributed, all_answers)) / total:.1%} closed and attributed to the named character, "
              f"{sum(a.closed_by == 'model' for a in all_answers) / total:.1%} closed by the model itself, "
              f"{sum(a.closed_by == 'sentences' for a in all_answers) / total:.1%} at the sentence limit; "
              f"{sum(len(a.parts) > 1 and a.parts[1].spoke for a in all_answers) / total:.1%} go on after the "
              f"attribution; {statistics.fmean(len(WORD.findall(speech_of(a))) for a in all_answers):.1f} words "
              f"of speech")
        if python and recase:
            whole = [answer.text.strip() for answer in all_answers]
            said = figures(whole, [""] * len(whole), recase, python, endings=False)
            texts = continuations(gen, contexts, all_answers, best_of)  # from every place: as many judged
            story = figures(texts, [""] * len(texts), recase, python, endings=False)
            speeches = book_speech()
            book = figures(speeches, [""] * len(speeches), recase, python, endings=False)
            print(f"judge: the book's own speech framed as answers (Through the Looking-Glass) {book.linked:.1%} "
                  f"linked ({book.judged} judged), distinct pairs of the speech "
                  f"{distinct_pairs([text.removesuffix(attribution('the King')) for text in speeches]):.3f}")
            print(f"judge: answers' sentences {said.linked:.1%} linked ({said.judged} judged, full parse "
                  f"{said.full_parse:.1%}, {said.sentence_words:.1f} words), distinct pairs of their speech "
                  f"{distinct_pairs(list(map(speech_of, all_answers))):.3f}; story continuations {story.linked:.1%} "
                  f"linked ({story.judged} judged, full parse {story.full_parse:.1%}, {story.sentence_words:.1f} "
                  f"words), pairs {story.pairs:.3f}")
        else:
            print("judge: not run (needs python3-link-grammar and ../shared/corpus)")
        if CORPUS.is_dir():
            print(voice_line(all_answers, [name for name in characters if name != OUTSIDER]))
        print(alike_line(gen, characters, best_of))
        one = speed(gen, best_of, 1, rounds=10)
        print(f"speed: 1 stream (medians of 10 questions in one story) {one[0]:,.0f} chars/s, first character of "
              f"speech {one[1]:.0f} ms, the speech going on {one[2]:.0f} ms after the attribution; "
              f"load {load_average()}")
        if not args.quick:
            many = speed(gen, best_of, 16)
            print(f"speed: 16 streams, the slowest {many[0]:,.0f} chars/s, first character (median) {many[1]:.0f} ms, "
                  f"going on after the attribution (median) {many[2]:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
