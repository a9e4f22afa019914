"""Generation precision (engine/precision.py, engine/steps/): each precision against fp32 on a small real model and
on the bundled one, auto's choice, clear errors, and continuous batching per precision."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import Generator
from engine.costs import recorded_costs
from engine.model import CharLSTM, ModelConfig
from engine.modelfolder import BUNDLED_MODEL, WEIGHTS, load_model_folder, save_model_folder
from engine.precision import QUALITY_BOUND, choose_precision
from engine.sampling import Sampling
from engine.steps import PrecisionError
from engine.steps.bf16 import Bf16Step
from engine.steps.build import build_step, unavailable
from engine.steps.int8 import PIPELINE_MIN
from engine.vocab import Vocab
from train.eval import score_ids

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
CPU = torch.device("cpu")
REDUCED = ["int8", "bf16"]  # bf16 runs emulated here when the CPU lacks it (tests only)
TEXT = """Alice was beginning to get very tired of sitting by her sister on the bank, and of having
nothing to do: once or twice she had peeped into the book her sister was reading, but it had no
pictures or conversations in it, 'and what is the use of a book,' thought Alice 'without pictures
or conversations?' So she was considering in her own mind (as well as she could, for the hot day
made her feel very sleepy and stupid), whether the pleasure of making a daisy-chain would be worth
the trouble of getting up and picking the daisies, when suddenly a White Rabbit with pink eyes ran
close by her."""


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """A small model trained for a few hundred steps on real text (so its logits mean something)."""
    torch.manual_seed(0)
    vocab = Vocab.build(TEXT.lower())
    model = CharLSTM(ModelConfig(vocab_size=len(vocab), embed=16, hidden=64, layers=2, dropout=0,
                                 embed_dropout=0, weight_drop=0))
    ids = torch.tensor(vocab.encode(vocab.normalize(TEXT)))
    rows = ids[:len(ids) // 64 * 64].reshape(-1, 64)  # short rows: an LSTM's backward pass is sequential
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        logits, _ = model(rows[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    folder = tmp_path_factory.mktemp("small") / "model"
    save_model_folder(folder, model.eval(), vocab, {"name": "small"})
    return folder


def runnable(precision: str) -> bool:
    """Whether the tests can run `precision` here (bf16 always: emulated where the CPU lacks it)."""
    return precision == "bf16" or unavailable(precision, CPU) is None


def reduced_step(small: Path, precision: str):
    """The small model and its step in `precision` (bf16 emulated where the CPU lacks it); skips the
    test where this machine cannot run it."""
    if not runnable(precision):
        pytest.skip(f"{precision}: {unavailable(precision, CPU)}")
    model = load_model_folder(small).model
    return model, build_step(model, precision, emulate=True)


def states(model: CharLSTM, rows: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    shape = (model.config.layers, rows, model.config.hidden)
    return torch.randn(shape, generator=g).tanh(), torch.randn(shape, generator=g)


@pytest.mark.parametrize("precision", REDUCED)
def test_each_precision_gives_fp32s_logits_within_tolerance(small, precision):
    model, step = reduced_step(small, precision)
    ids = torch.randint(1, model.config.vocab_size, (5,), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want, (want_h, want_c) = model.step(ids, states(model, 5, 2))
        got, (got_h, got_c) = step(ids, states(model, 5, 2))
        seq = torch.randint(1, model.config.vocab_size, (3, 40), generator=torch.Generator().manual_seed(3))
        want_seq, _ = model(seq)
        got_seq, _ = step.forward(seq)
    # int8: one scale per output row, 7-bit activations; bf16: 8-bit mantissas. Logits span ~20 here;
    # one step stays within 0.25, and 40 steps (errors carried in the state) within 0.6, 0.1 on average.
    assert (got - want).abs().max() < 0.25
    assert (got_h - want_h).abs().max() < 0.05 and (got_c - want_c).abs().max() < 0.1
    assert (got_seq - want_seq).abs().max() < 0.6 and (got_seq - want_seq).abs().mean() < 0.1
    assert (got - want).abs().max() > 0  # it really ran in another precision


@pytest.mark.parametrize("precision", REDUCED)
def test_each_precision_keeps_bits_per_char_within_the_bound_on_real_text(loaded, precision):
    if not runnable(precision):
        pytest.skip(f"{precision}: {unavailable(precision, CPU)}")
    if not CORPUS.exists():
        pytest.skip("../shared/corpus is absent (a user's clone): no held-out book to score")
    text = (CORPUS / "lookingglass.txt").read_text(encoding="utf-8-sig")[40_000:41_000]
    ids = np.array(loaded.vocab.encode(loaded.vocab.normalize(text)), dtype=np.int64)
    fp32 = score_ids(loaded.model, ids)
    if precision == "bf16" and unavailable("bf16", CPU):  # emulated: build it by hand, score the same way
        from train.scoring import evaluate

        with torch.inference_mode():
            reduced = evaluate(loaded.model, ids, CPU, False, Bf16Step(loaded.model).forward) / np.log(2)
    else:
        reduced = score_ids(loaded.model, ids, precision)
    assert 1.0 < fp32 < 2.5
    assert abs(reduced - fp32) <= QUALITY_BOUND


@pytest.mark.parametrize("precision", REDUCED)
def test_a_row_writes_the_same_alone_or_beside_others(small, precision):
    """The int8 activations' scale is pinned, so a row's numbers do not depend on its neighbours."""
    model, step = reduced_step(small, precision)
    ids = torch.randint(1, model.config.vocab_size, (6,), generator=torch.Generator().manual_seed(4))
    h, c = states(model, 6, 5)
    h[:, 0] *= 0.01  # one row's activations much smaller than the others'
    with torch.inference_mode():
        together, (th, tc) = step(ids, (h, c))
        for row in range(6):
            alone, (ah, ac) = step(ids[row:row + 1], (h[:, row:row + 1], c[:, row:row + 1]))
            torch.testing.assert_close(alone, together[row:row + 1], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(ah, th[:, row:row + 1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hidden, length", [(64, 120), (40, 120), (64, 200), (40, 200)])
def test_int8_reads_a_text_into_the_state_that_writing_it_leaves_to_the_bit(small, hidden, length):
    """Reading runs PyTorch's C++ int8 LSTM over the whole seed (from PIPELINE_MIN characters on, its
    first layer in this thread and the others in a second, a chunk behind), writing runs one Python
    step a character; a re-read conversation relies on both ending in the same state (also for a
    hidden size that is not a multiple of the CPU's vector width, 40). Batched reads are
    row-independent too, and a pipelined read leaves no thread behind."""
    if unavailable("int8", CPU):
        pytest.skip(f"int8: {unavailable('int8', CPU)}")
    model = load_model_folder(small).model
    if hidden != model.config.hidden:
        torch.manual_seed(7)
        model = CharLSTM(ModelConfig(vocab_size=model.config.vocab_size, embed=8, hidden=hidden, layers=3)).eval()
    step = build_step(model, "int8")
    texts = torch.randint(1, model.config.vocab_size, (3, length), generator=torch.Generator().manual_seed(6))
    start = states(model, 3, 8)
    assert (length >= PIPELINE_MIN) == (length == 200)
    threads = threading.active_count()
    with torch.inference_mode():
        read_logits, (read_h, read_c) = step.read(texts, start)
        assert threading.active_count() == threads
        h, c = start
        for t in range(texts.shape[1]):
            logits, (h, c) = step(texts[:, t], (h, c))
        assert torch.equal(read_h, h) and torch.equal(read_c, c) and torch.equal(read_logits, logits)
        alone, (alone_h, _) = step.read(texts[1:2], (start[0][:, 1:2], start[1][:, 1:2]))
        assert torch.equal(alone, read_logits[1:2]) and torch.equal(alone_h, read_h[:, 1:2])
        scored, _ = step.forward(texts[:, :50], start)  # scoring: every position's logits, same numbers
        _, mid = step.read(texts[:, :49], start)
        assert torch.equal(scored[:, -1], step(texts[:, 49], mid)[0])
        # a step reuses the recurrent product its previous step made for the state it returned; when
        # rows leave (a new state tensor), it makes it anew, with the same numbers
        ids = texts[:, :3]
        _, batch = step(ids[:, 0], (h, c))
        kept = (batch[0][:, 1:].contiguous(), batch[1][:, 1:].contiguous())
        logits_kept, _ = step(ids[1:, 1], kept)
        _, alone = step(ids[1:2, 0], (h[:, 1:2], c[:, 1:2]))
        logits_alone, _ = step(ids[1:2, 1], alone)
        assert torch.equal(logits_kept[:1], logits_alone)


def test_a_precision_this_machine_lacks_is_a_one_line_error(small):
    model = load_model_folder(small).model
    assert "CPUs only" in unavailable("int8", torch.device("cuda"))
    with pytest.raises(PrecisionError, match="must be one of auto, fp32, bf16, int8"):
        Generator(small, precision="fp16")
    if unavailable("bf16", CPU):
        with pytest.raises(PrecisionError) as error:
            Generator(small, precision="bf16")
        assert "\n" not in str(error.value) and "bfloat16" in str(error.value)
        with pytest.raises(PrecisionError):
            build_step(model, "bf16")


def test_auto_runs_a_precision_that_exists_and_says_why(small):
    with Generator(small) as auto:
        assert auto.precision.precision in ("fp32", "bf16", "int8")
        assert unavailable(auto.precision.precision, CPU) is None
        assert auto.precision.reason.startswith("auto")
        assert len(auto.generate("alice", 50, rng_seed=1)) > 0


def with_costs(small: Path, tmp_path: Path, costs: dict) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(small, folder)
    config = json.loads((folder / "config.json").read_text())
    config.setdefault("metrics", {})["precision"] = costs
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_auto_offers_only_precisions_measured_within_the_bound(small, tmp_path):
    if unavailable("int8", CPU):
        pytest.skip(f"int8: {unavailable('int8', CPU)}")
    loaded = load_model_folder(small)
    model, sha = loaded.model, loaded.weights_sha256
    unmeasured = choose_precision(model, "auto", {}, sha)[1]
    assert "int8: its cost is not measured" in unmeasured.reason and unmeasured.precision == "fp32"
    too_costly = {"int8": {"book": {"cost": 0.02, "weights_sha256": sha},
                           "other": {"cost": 0.001, "weights_sha256": sha}}}
    costly = choose_precision(model, "auto", {"metrics": {"precision": too_costly}}, sha)[1]
    assert costly.precision == "fp32" and "int8: costs +0.0200" in costly.reason
    cheap = {"int8": {"book": {"cost": 0.003, "weights_sha256": sha}}}
    chosen = choose_precision(model, "auto", {"metrics": {"precision": cheap}}, sha)[1]
    assert "measured at load" in chosen.reason and "int8" in chosen.reason  # both were timed
    assert chosen.precision in ("fp32", "int8")
    with Generator(with_costs(small, tmp_path, cheap)) as gen:
        assert gen.precision.precision in ("fp32", "int8") and "measured at load" in gen.precision.reason


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_streams_batched_together_write_what_each_writes_alone_per_precision(loaded, precision):
    if unavailable(precision, CPU):
        pytest.skip(f"{precision}: {unavailable(precision, CPU)}")
    jobs = [("alice", Sampling(), 1), ("the king", Sampling(temperature=0), 2), ("", Sampling(1.2, 10, 1.0), 3),
            ("the dormouse", Sampling(0.5, 0, 0.8), 4)]
    with Generator(loaded, precision=precision) as gen:
        assert gen.precision.precision == precision
        alone = [gen.generate(seed, 150, sampling=s, rng_seed=r) for seed, s, r in jobs]
        assert gen.generate("alice", 150, sampling=Sampling(), rng_seed=1) == alone[0]  # determinism
        streams = [gen.stream(seed, 150, sampling=s, rng_seed=r) for seed, s, r in jobs]
        with gen.together():  # every stream joins before the worker looks: one batch
            for stream in streams:
                stream.begin()
        together = ["".join(stream) for stream in streams]
    assert together == alone


def test_int8_and_fp32_write_different_text_from_the_same_rng_seed_but_both_read_as_the_book(loaded):
    """int8 is really used when asked for: its numbers differ, so long samples part ways somewhere."""
    if unavailable("int8", CPU):
        pytest.skip(f"int8: {unavailable('int8', CPU)}")
    with Generator(loaded, precision="fp32") as fp32, Generator(loaded, precision="int8") as int8:
        a = [fp32.generate("the queen said", 400, rng_seed=i, exact=True) for i in range(2)]
        b = [int8.generate("the queen said", 400, rng_seed=i, exact=True) for i in range(2)]
    assert a != b
    assert all(text.count(" ") > 40 for text in b)


def test_eval_scores_a_precision_and_records_its_cost_for_auto(small, tmp_path):
    if unavailable("int8", CPU):
        pytest.skip(f"int8: {unavailable('int8', CPU)}")
    folder = tmp_path / "model"
    shutil.copytree(small, folder)
    book = tmp_path / "book.txt"
    book.write_text(TEXT * 2, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "train.eval", str(folder), str(book), "--precision", "int8",
                          "--record"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "bpc in int8:" in run.stdout and "against fp32" in run.stdout
    costs = recorded_costs(json.loads((folder / "config.json").read_text()), "int8",
                           load_model_folder(folder).weights_sha256).costs
    assert set(costs) == {"book.txt"} and abs(costs["book.txt"]) <= QUALITY_BOUND
    bad = subprocess.run([sys.executable, "-m", "train.eval", str(folder), str(book), "--precision", "fp8"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert bad.returncode == 2 and "invalid choice: 'fp8'" in bad.stderr


def test_a_cost_measured_on_other_weights_does_not_count_until_it_is_measured_again(tmp_path):
    """One embedding row scaled, the old int8 cost left in place: auto no longer offers int8 and says
    why; `train.eval --precision int8 --record` measures it on these weights and auto offers it again."""
    if unavailable("int8", CPU):
        pytest.skip(f"int8: {unavailable('int8', CPU)}")
    folder = tmp_path / "alice"
    shutil.copytree(BUNDLED_MODEL, folder)
    bundled = load_model_folder(folder)
    assert recorded_costs(bundled.config, "int8", bundled.weights_sha256).costs  # the bundled costs are bound
    from safetensors.torch import load_file, save_file

    weights = load_file(str(folder / WEIGHTS))
    weights["embed.weight"][bundled.vocab.char_id("e")] *= 1.5
    save_file(weights, str(folder / WEIGHTS), metadata={"format_version": "1"})
    with Generator(folder, device="cpu") as gen:
        choice = gen.precision
    assert choice.precision == "fp32"
    assert ("int8: its recorded cost (wonderland-tail.txt, lookingglass.txt) was measured on other weights than "
            "this model.safetensors; python -m train.eval MODEL FILE --precision int8 --record") in choice.reason
    book = tmp_path / "book.txt"
    book.write_text(TEXT * 4, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "train.eval", str(folder), str(book), "--precision", "int8",
                          "--record", "--device", "cpu"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    config = json.loads((folder / "config.json").read_text())
    assert set(config["metrics"]["precision"]["int8"]) == {"book.txt"}  # the stale costs went
    with Generator(folder, device="cpu") as gen:
        reason = gen.precision.reason
    assert "other weights" not in reason and "int8" in reason.split("measured at load")[1]  # offered and timed
