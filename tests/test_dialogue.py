"""Dialogue turns: the book's speakers recorded, a person's words said to a character, and the
character's answer written by the real model as one closed, attributed quotation."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Conversation
from engine.conversation import plan
from engine.dialogue import (
    ANSWER_OPENING,
    ANSWER_REPEAT_PENALTY,
    CLOSE,
    MAX_NAME,
    MAX_WORDS,
    OPEN,
    REOPEN,
    SPEAKERS,
    Address,
    Answer,
    DialogueError,
    read_cast,
    said_line,
)
from engine.modelfolder import BUNDLED_MODEL
from engine.sampling import Sampling
from engine.speech import SpeechEnd
from train.speakers import count_speakers

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
ALICE = read_cast(BUNDLED_MODEL)
QUESTIONS = ["Who are you?", "Why is a raven like a writing-desk?", "Where are you going", "I am lost.",
             "What is the time?", "Will you play croquet with me?", "Do you like tea", "How old are you?",
             "Can you help me find the rabbit?", "Why are you so cross?"]


def test_speakers_are_names_beside_speech_verbs() -> None:
    text = ("“Off with her head!” the Queen shouted. “Nonsense,” said Alice. “Come on,” said the Mock Turtle. "
            "“I know,” she said. “So,” said Alice. “Well,” So Alice said. “Yes,” said the King.")
    counts = count_speakers([text])
    assert counts == {"Alice": 2, "the Queen": 1, "the Mock Turtle": 1, "the King": 1}


def test_the_bundled_alice_knows_who_speaks_in_its_book() -> None:
    assert ALICE.names[0] == "Alice" and not ALICE.note
    assert {"the Hatter", "the Queen", "the Mock Turtle", "the March Hare", "the Gryphon"} <= set(ALICE.names)
    assert not {"She", "He", "I", "So Alice"} & set(ALICE.names)
    assert ALICE.find("hatter") == "the Hatter" and ALICE.find("The MOCK turtle") == "the Mock Turtle"
    assert ALICE.find("the Dragon") == "the Dragon"  # anyone may be addressed


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus folder {CORPUS} is absent")
def test_the_speakers_record_is_rebuilt_from_the_books_config_names(tmp_path) -> None:
    folder = tmp_path / "alice"
    shutil.copytree(BUNDLED_MODEL, folder)
    (folder / SPEAKERS).unlink()
    done = subprocess.run([sys.executable, "-m", "train.speakers", str(folder)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((folder / SPEAKERS).read_text()) == json.loads((BUNDLED_MODEL / SPEAKERS).read_text())


def test_a_bad_speakers_record_says_so_and_offers_nobody(tmp_path) -> None:
    assert read_cast(tmp_path).note.startswith("this model has no speakers.json")
    (tmp_path / SPEAKERS).write_text("{not json")
    assert "cannot be read" in read_cast(tmp_path).note and read_cast(tmp_path).names == []
    (tmp_path / SPEAKERS).write_text(json.dumps({"speakers": [["<@123>", 5], ["x" * 100, 3], ["the Owl", 2]]}))
    assert read_cast(tmp_path).names == ["the Owl"]  # mentions and overlong names are dropped
    (tmp_path / SPEAKERS).write_bytes(b" " * 300_000)
    assert "over" in read_cast(tmp_path).note


@pytest.mark.parametrize(("words", "character", "speaker", "message"), [
    ("", "the Hatter", None, "the question is empty"),
    ("   ", "the Hatter", None, "the question is empty"),
    ("hi", "", None, "a character's name is empty"),
    ("hi", "x" * (MAX_NAME + 152), None, f"at most {MAX_NAME}"),
    ("hi", "the “Hatter”", None, "quotation marks"),
    ("hi", "<@1100000000000000021>", None, "quotation marks, @"),
    ("hi", "@everyone", None, "@"),
    ("x" * 5000, "the Hatter", None, f"at most {MAX_WORDS:,}"),
    ("hi", "alice", None, "you speak as Alice"),
    ("hi", "the Hatter", '"you"', "quotation marks"),
])
def test_bad_turns_are_one_line_each(words, character, speaker, message) -> None:
    with pytest.raises(DialogueError, match=re.escape(message)) as caught:
        Address.of(words, character, ALICE, speaker)
    assert "\n" not in str(caught.value)


def test_the_persons_words_are_their_speakers_line() -> None:
    assert said_line("Who are you?", "Alice") == "\n\n“Who are you?” said Alice."
    assert said_line("I like tea.", "Alice") == "\n\n“I like tea,” said Alice."
    assert said_line("hello there", "I") == "\n\n“hello there,” said I."  # as typed
    assert said_line("Wait; ", "Alice") == "\n\n“Wait,” said Alice."
    assert said_line("I know...", "Alice") == "\n\n“I know...” said Alice."  # an ellipsis, a dash, ! and ? stay
    assert said_line("Off with it—", "the Queen") == "\n\n“Off with it—” said the Queen."


def test_speech_ends_where_it_closes_or_the_engine_closes_it() -> None:
    def run(text: str, sentences: int = 2) -> tuple[str, str]:
        end = SpeechEnd(sentences, " said the Hatter.")
        shown = "".join(end.add(ch) for ch in text) + end.finish()
        return shown, end.closed_by

    # the close is shown with the attribution; a full stop, semicolon or colon before it becomes a comma
    assert run("no more, thank you.” said the hatter. and") == ("no more, thank you,” said the Hatter.", "model")
    assert run("no more, thank you,” said the hatter. and") == ("no more, thank you,” said the Hatter.", "model")
    assert run("who are you?” asked") == ("who are you?” said the Hatter.", "model")
    assert run("wait; ”") == ("wait,” said the Hatter.", "model")
    assert run("stop—”") == ("stop—” said the Hatter.", "model")
    assert run("well...” and") == ("well...” said the Hatter.", "model")
    assert run("I know,\n\nsaid she") == ("I know,” said the Hatter.", "paragraph")
    assert run("yes, and no:") == ("yes, and no,” said the Hatter.", "stream")
    assert run("we were saying “why, i’m a caterpillar.”") == ("we were saying,” said the Hatter.", "quote")
    assert run("one. two. three.") == ("one. two,” said the Hatter.", "sentences")
    assert run("one.\nwrapped line. two") == ("one.\nwrapped line,” said the Hatter.", "sentences")  # a wrap: no break
    assert run("one\n\nnarration") == ("one,” said the Hatter.", "paragraph")
    assert run("never closed") == ("never closed,” said the Hatter.", "stream")
    assert run("” said the hatter") == ("\u2014” said the Hatter.", "model")  # closed before a word: says nothing
    # what may still become the attribution's comma is never shown before the next word
    end = SpeechEnd(2, " said the Hatter.")
    assert [end.add(ch) for ch in "no. i"] == ["n", "o", "", "", ". i"]


def test_speech_that_goes_on_after_its_attribution_ends_with_a_stop_and_shows_nothing_unsaid() -> None:
    def run(text: str, sentences: int = 1) -> tuple[str, str]:
        end = SpeechEnd(sentences, capital=True, lead=REOPEN)
        shown = "".join(end.add(ch) for ch in text) + end.finish()
        return shown, end.closed_by

    assert run("it is always tea-time. and so") == (" “It is always tea-time.”", "sentences")
    assert run("why? because i say so. no", 2) == (" “Why? because i say so.”", "sentences")
    assert run("yes, i do.” said the hatter") == (" “Yes, i do.”", "model")
    assert run("never closed") == (" “Never closed”", "stream")
    assert run("at any rate,” said the hatter") == (" “At any rate.”", "model")  # no attribution follows
    assert run("well; ”") == (" “Well.”", "model") and run("so...” and") == (" “So...”", "model")
    assert run("” said the hatter") == ("", "model")  # nothing more said: the answer ended at its attribution
    assert run("\n\nand then") == (" “And then”", "stream")  # the speech starts with its first word
    end = SpeechEnd(1, lead=REOPEN)
    assert [end.add(ch) for ch in "  so"] == ["", "", " “s", "o"]  # the reopening mark comes with the first word


def shape(character: str) -> re.Pattern:
    """An answer: the character's speech closed and attributed, and maybe going on after the attribution."""
    speech = f"{OPEN}[^{OPEN}{CLOSE}\"]+{CLOSE}"
    return re.compile(rf"\n\n{speech} said {re.escape(character)}\.(?: {speech})?")


def answers(gen, character: str, count: int, **options) -> tuple[Conversation, list[Answer]]:
    story, done = Conversation.of("alice was beginning to get very tired of sitting by her sister"), []
    for i, question in enumerate(QUESTIONS[:count]):
        answer = Answer(gen, story, Address.of(question, character, ALICE), rng_seed=i, **options)
        assert "".join(answer) == answer.text
        done.append(answer)
    return story, done


@pytest.mark.parametrize("best_of", [1, 2])
def test_answers_are_the_characters_closed_quoted_speech(int8_gen, best_of) -> None:
    for character in ("the Hatter", "the Dragon"):
        story, done = answers(int8_gen, character, 10, best_of=best_of)
        for answer in done:
            assert shape(character).fullmatch(answer.text), answer.text
            assert answer.closed_by and answer.parts[0].closed_by in ("model", "sentences")
        assert story.text.endswith(done[-1].text)  # the story holds exactly what was shown, turn by turn
        assert [t.character for t in story.turns[1:]] == ["", character] * len(done)  # answers carry their character
        assert sum(len(a.parts) == 2 and a.parts[1].spoke for a in done) >= 5  # most speech goes on after it


def test_the_same_seed_gives_the_same_answer_and_the_story_goes_on_from_it(int8_gen) -> None:
    first = answers(int8_gen, "the Queen", 3)[0]
    again = answers(int8_gen, "the Queen", 3)[0]
    assert first.text == again.text
    said = [t.text for t in first.turns]
    assert len(said) == 7 and said[5] == "\n\n“Where are you going,” said Alice."
    assert said[1] == "\n\n“Who are you?” said Alice." and said[2].startswith("\n\n“")
    assert shape("the Queen").fullmatch(said[2])


def test_answers_weigh_repeated_word_pairs_more_than_stories(int8_gen) -> None:
    """Best-of keeps answers by ANSWER_REPEAT_PENALTY unless the caller says otherwise (a story's
    default is Sampling's lighter one, which keeps other answers)."""
    assert Sampling().repeat_penalty < ANSWER_REPEAT_PENALTY
    texts = [[a.text for a in answers(int8_gen, "the Hatter", 4, best_of=8, **penalty)[1]]
             for penalty in ({}, {"repeat_penalty": ANSWER_REPEAT_PENALTY}, {"repeat_penalty": 0.0})]
    assert texts[0] == texts[1] != texts[2]


def test_the_speech_after_the_attribution_is_written_once_the_model_has_read_it(int8_gen) -> None:
    """The second part of an answer goes on from the story as shown up to the attribution, and the
    reopening mark: the same stream from there writes it again. The state after the answer's opening
    is cached, so it reads only what follows it, not the story again."""
    story, done = answers(int8_gen, "the Hatter", 4)
    i, answer = next((i, a) for i, a in enumerate(done) if len(a.parts) == 2 and a.parts[1].spoke)
    first = answer.text[: answer.text.index(" said the Hatter.") + len(" said the Hatter.")]
    before = Conversation(story.turns[: 2 + 2 * i])
    before.add(ANSWER_OPENING, "model")
    before.add(first[len(ANSWER_OPENING):] + REOPEN, "model")
    opened = Conversation(before.turns[:-1])
    how = plan(opened, int8_gen.loaded.vocab, int8_gen.states, int8_gen.max_seed_chars)
    assert how.start is not None and how.read == ""  # the state after the opening is cached: part 2 read from it
    end = SpeechEnd(1, capital=True, lead=REOPEN)
    shown = ""
    for chunk in int8_gen.stream(before, 640, exact=True, rng_seed=i, repeat_penalty=ANSWER_REPEAT_PENALTY):
        shown += "".join(map(end.add, chunk))
        if end.done:
            break
    assert first + (shown + end.finish()) == answer.text


def test_after_an_answer_the_next_question_reads_only_its_own_line(int8_gen) -> None:
    """An answer read to its end leaves the state its story ends in cached (the answer as shown is not
    what the model wrote, so no stream left it): the next question reads the person's line and the
    opening, not the story's last `max_seed_chars` characters again."""
    from test_conversation import Reads

    story, _ = answers(int8_gen, "the Hatter", 1)
    reads = int8_gen.wrap_step(Reads)
    try:
        "".join(Answer(int8_gen, story, Address.of("And then?", "the Hatter", ALICE), rng_seed=3))
    finally:
        int8_gen.wrap_step(lambda _: reads.step)
    line = int8_gen.loaded.vocab.normalize(said_line("And then?", "Alice") + ANSWER_OPENING)
    assert reads.shapes[0] == (1, len(line)) and len(story.text) > int8_gen.max_seed_chars // 2


def test_an_answer_of_one_sentence_ends_at_its_attribution(int8_gen) -> None:
    story = Conversation.of("alice was beginning to get very tired of sitting by her sister")
    for i, question in enumerate(QUESTIONS[:4]):
        answer = Answer(int8_gen, story, Address.of(question, "the Hatter", ALICE, sentences=1), rng_seed=i)
        assert re.fullmatch(rf"\n\n{OPEN}[^{OPEN}{CLOSE}]+{CLOSE} said the Hatter\.", "".join(answer))
        assert len(answer.parts) == 1


def test_the_character_goes_on_without_new_words(int8_gen) -> None:
    story, done = answers(int8_gen, "the Hatter", 1)
    before = story.text
    again = Answer(int8_gen, story, done[0].address.going_on(), rng_seed=9)
    text = "".join(again)
    assert story.text == before + text and shape("the Hatter").fullmatch(text)
    assert "said Alice" not in text and story.turns[-1].character == "the Hatter"


def test_a_reader_that_stops_early_leaves_what_was_shown_in_the_story(int8_gen) -> None:
    story = Conversation()
    answer = Answer(int8_gen, story, Address.of("Who are you?", "the Hatter", ALICE), rng_seed=1)
    pieces = iter(answer)
    shown = next(pieces) + next(pieces)
    pieces.close()
    assert story.text.endswith(shown) and answer.text == shown


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_answers_in_every_precision_keep_to_the_lexicon_and_the_books_case(loaded, precision) -> None:
    """Best-of, the word guide and printed case apply inside answers as in any stream."""
    import torch

    from engine import Generator
    from engine.steps.build import unavailable

    if unavailable(precision, torch.device("cpu")):
        pytest.skip(f"{precision}: {unavailable(precision, torch.device('cpu'))}")
    known = set(loaded.lexicon.counts)
    with Generator(loaded, precision=precision) as gen:
        story, done = answers(gen, "the Hatter", 4, best_of=4, words="lexicon")
    for answer in done:
        speech = answer.text.split(OPEN, 1)[1]
        assert speech[:1].isupper() or not speech[:1].isalpha(), answer.text  # a sentence starts with a capital
        words = re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)*", speech.lower())
        assert words and all(w in known for w in words), (words, answer.text)
        assert not re.search(r"\bi\b", speech), answer.text  # "I", never "i"
