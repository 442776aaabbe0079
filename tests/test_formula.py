"""EZPoints and Points24: the exact formula evaluator (C++ vs Python) and the two games."""
import random
from fractions import Fraction

import numpy as np
import pytest

from envs import _C
from envs import formula as F


def toks(s):
    """'8 / ( 3 - 8 / 3 )' -> token list (space separated, '?' is the invalid placeholder)."""
    return [F.TOKEN_TEXT.index(w) for w in s.split()]


def cpp_eval(tokens):
    status, num, den = _C.formula_eval(np.asarray(tokens, dtype=np.int64))
    return status, Fraction(num, den)


def both_eval(tokens):
    (s1, v1), (s2, v2) = F.evaluate(tokens), cpp_eval(tokens)
    assert s1 == s2, tokens
    if s1 == F.OK:
        assert v1 == v2, tokens
    return s1, v1


# --- evaluator: hand-checked cases -----------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("8 / ( 3 - 8 / 3 )", 24),  # the float comparison of the original rejected this
    ("2 + 3 * 4", 14), ("( 2 + 3 ) * 4", 20), ("10 - 4 - 3", 3), ("8 / 4 / 2", 1),
    ("1 / 3 + 1 / 3 + 1 / 3", 1), ("( ( 7 ) )", 7), ("1 - 10", -9), ("3 / 9", Fraction(1, 3)),
    ("6 * 2", 12), ("10 + 2", 12), ("( 10 - 4 ) * ( 1 + 3 )", 24), ("5 * 5 - 1 / 1", 24),
])
def test_evaluate_values(text, value):
    assert both_eval(toks(text)) == (F.OK, value)


@pytest.mark.parametrize("text", [
    "", "2 4", "1 10", "+ 3", "- 3", "3 +", "3 * * 4", "( 3", "3 )", "( )", ") 3 (", "( 2 + 3 ) 4",
    "4 ( 2 )", "?", "3 + ?", "? * 2", "( ( 1 + 2 )", "1 + 2 ) )", "/ 2", "*",
    "3 / ( 2 - 2 ) (",  # a syntax error wins over a division by zero
])
def test_evaluate_syntax_errors(text):
    assert both_eval(toks(text))[0] == F.SYNTAX_ERROR


@pytest.mark.parametrize("text", ["3 / ( 2 - 2 )", "1 / ( 5 - 5 ) + 4", "( 1 - 1 ) / ( 3 - 3 )",
                                  "8 / ( 3 - 9 / 3 )"])
def test_evaluate_division_by_zero(text):
    assert both_eval(toks(text))[0] == F.DIV_BY_ZERO


def test_evaluator_input_errors():
    for bad in ([17], [-1], [0] * 25):
        with pytest.raises(ValueError):
            F.evaluate(bad)
        with pytest.raises(ValueError):
            cpp_eval(bad)
    with pytest.raises(ValueError):
        _C.formula_eval(np.array([1, 2], dtype=np.int32))
    with pytest.raises(ValueError):
        _C.formula_eval(np.zeros((2, 2), dtype=np.int64))
    assert both_eval([0] * 24)[0] == F.SYNTAX_ERROR  # the longest formula is accepted as input


# --- evaluator: C++ vs Python on many random formulas ----------------------------------------

def random_expr(rng, budget):
    """A random well-formed formula of at most `budget` tokens (budget >= 1)."""
    if budget < 3 or rng.random() < 0.3:
        return [rng.randrange(10)]
    if budget >= 5 and rng.random() < 0.2:  # a zero, so that divisions by zero occur
        n = rng.randrange(10)
        return [F.LPAREN, n, F.MINUS, n, F.RPAREN]
    if budget >= 5 and rng.random() < 0.25:
        return [F.LPAREN] + random_expr(rng, budget - 2) + [F.RPAREN]
    left = random_expr(rng, budget - 2)
    right = random_expr(rng, budget - 1 - len(left))
    return left + [rng.choice((F.PLUS, F.MINUS, F.TIMES, F.DIVIDE))] + right


def test_cpp_matches_python_on_random_formulas():
    rng = random.Random(0)
    counts = {F.OK: 0, F.SYNTAX_ERROR: 0, F.DIV_BY_ZERO: 0}
    for i in range(20000):
        if i % 3 == 0:  # uniformly random tokens: mostly malformed
            tokens = [rng.randrange(F.NUM_TOKENS) for _ in range(rng.randrange(F.MAX_TOKENS + 1))]
        else:  # well formed, then maybe one token deleted, inserted or replaced
            tokens = random_expr(rng, F.MAX_TOKENS - 1)
            if i % 3 == 2:
                j = rng.randrange(len(tokens) + 1)
                op = rng.randrange(3)
                if op == 0 and j < len(tokens):
                    del tokens[j]
                elif op == 1:
                    tokens.insert(j, rng.randrange(F.NUM_TOKENS))
                elif j < len(tokens):
                    tokens[j] = rng.randrange(F.NUM_TOKENS)
        counts[both_eval(tokens)[0]] += 1
    assert min(counts.values()) > 500, counts  # every outcome is exercised many times
