"""A bounded run of benchmarks/fuzz.py: every C++ env with random sizes, seeds, options at their limits and
illegal actions (refused, changing nothing), checked against its Python twin and a restored copy at sampled
steps; a corpus of malformed and hostile replies through every parser, the text envs' included (no
exception, no code run, a parsed action is played)."""
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fuzz  # noqa: E402


def test_envs_survive_random_and_illegal_input_and_match_their_twins():
    count = Counter({k: 0 for k in fuzz.BROKE})
    fuzz.fuzz_envs(30_000, seed=1, count=count)
    assert {k: v for k, v in count.items() if k.startswith("BROKE")} == dict.fromkeys(fuzz.BROKE, 0)
    assert count["env steps"] >= 30_000 and count["illegal actions refused"] > 100
    assert count["python restored from the snapshot: steps compared"] > 50 and count["episodes"] > 1000


def test_hostile_replies_are_counted_invalid_and_run_nothing():
    count = Counter({k: 0 for k in fuzz.BROKE})
    fuzz.fuzz_replies(500, seed=1, count=count)
    assert all(count[k] == 0 for k in fuzz.BROKE)
    assert count["replies parsed"] == 500 * (len(fuzz.CPP_TASKS) + len(fuzz.TEXT_TASKS)) and count["replies counted invalid"] > 0
    assert count["parsed actions played"] > 0 and all(t.startswith(("gymcards/", "grid/")) for t in fuzz.CPP_TASKS)


def test_the_fuzzer_reports_a_parser_that_raises(monkeypatch):
    def fragile(text, symbols):
        if "\x00" in text:
            raise UnicodeError("NUL")
        return real(text, symbols)
    real = fuzz.parse_action
    monkeypatch.setattr(fuzz, "parse_action", fragile)
    count = Counter()
    fuzz.fuzz_replies(200, seed=1, count=count)
    assert count["BROKE: the parser raised"] > 0
