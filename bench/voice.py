"""Does an answer sound like the character who gives it? A judge the product never uses (bench only).

Each character's quoted speech in the book (a quotation right beside `said the Hatter`, or after
`the Hatter said, `) makes a word model of that character, mixed half and half with all the
characters' speech together, so that words everyone uses weigh little. An answer is in voice when its
words are likelier under its own character's model than under any other character's. The yardstick is
the book itself: each of its speeches scored the same way, left out of its character's model while it
is scored. Chance is one in the number of characters.
"""

from __future__ import annotations

import math
import re
from collections import Counter

VERBS = ("said|cried|asked|replied|shouted|exclaimed|remarked|began|went on|continued|added|whispered|"
         "repeated|interrupted|growled|roared|screamed|thought")
WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?")
NAME = r"([Tt]he [A-Z][a-z]+(?: [A-Z][a-z]+)?|[A-Z][a-z]+)"  # `The Queen` begins a sentence: the Queen
MIN_WORDS = 3  # a shorter speech says too little to place


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


class Voices:
    """Word models of `characters` (names as the book prints them) from the book's quoted speech."""

    def __init__(self, book: str, characters: list[str]) -> None:
        text = " ".join(book.split())
        self.speeches: dict[str, list[list[str]]] = {name: [] for name in characters}
        after = re.finditer(rf"“([^”]{{2,400}})” (?:{VERBS}) {NAME}", text)
        before = re.finditer(rf"{NAME} (?:{VERBS})[^“”]{{0,30}}“([^”]{{2,400}})”", text)
        for speech, name in [(m[1], m[2]) for m in after] + [(m[2], m[1]) for m in before]:
            name = re.sub(r"^The ", "the ", name)
            if name in self.speeches:
                self.speeches[name].append(words(speech))
        self.counts = {name: Counter(w for said in spoken for w in said) for name, spoken in self.speeches.items()}
        self.pooled = Counter()
        for counts in self.counts.values():
            self.pooled.update(counts)
        self.types = len(self.pooled) + 1

    def _loglik(self, said: list[str], own: Counter, pooled: Counter) -> float:
        n, total = sum(own.values()), sum(pooled.values())
        return sum(math.log(0.5 * (own[w] + 0.01) / (n + 0.01 * self.types)
                            + 0.5 * (pooled[w] + 1) / (total + self.types)) for w in said)

    def closest(self, said: list[str], owner: str | None = None) -> str:
        """The character whose speech `said` is likeliest under; with `owner`, `said` is one of the
        book's speeches of that character, left out of the models while it is scored."""
        out = Counter(said) if owner else Counter()
        pooled = self.pooled - out
        return max(self.counts, key=lambda name: self._loglik(
            said, self.counts[name] - out if name == owner else self.counts[name], pooled))

    def in_voice(self, answers: list[tuple[str, str]]) -> tuple[float, int]:
        """(share in voice, answers placed) of (character, speech) pairs; characters the book lacks and
        speeches under MIN_WORDS words are not placed."""
        placed = [(name, words(speech)) for name, speech in answers if name in self.counts]
        placed = [(name, said) for name, said in placed if len(said) >= MIN_WORDS]
        return sum(self.closest(said) == name for name, said in placed) / max(1, len(placed)), len(placed)

    def book_in_voice(self) -> tuple[float, int]:
        """`in_voice` of the book's own speeches, each left out of its character's model in turn."""
        placed = [(name, said) for name, spoken in self.speeches.items() for said in spoken if len(said) >= MIN_WORDS]
        return sum(self.closest(said, owner=name) == name for name, said in placed) / max(1, len(placed)), len(placed)
