"""Formula games of Gym-Cards, pure-Python reference: EZPoints (make 12 from two cards) and Points24
(make 24 from four cards). The C++ twin is csrc/formula.hpp; the rules are in gymcards-spec.md.

Formulas are token sequences, never strings: NUM(v) = v - 1 for v in 1..10, then the operators
below. Evaluation is exact (fractions.Fraction) by a small recursive-descent parser; nothing is eval'd.
"""
from fractions import Fraction

PLUS, MINUS, TIMES, DIVIDE, LPAREN, RPAREN, INVALID = range(10, 17)
NUM_TOKENS = 17
MAX_TOKENS = 24  # the games build at most 21 (see csrc/formula.hpp for why int64 suffices there)
OK, SYNTAX_ERROR, DIV_BY_ZERO = 0, 1, 2
TOKEN_TEXT = tuple(str(v) for v in range(1, 11)) + ("+", "-", "*", "/", "(", ")", "?")


class _Parser:
    """expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ;
    factor := NUMBER | '(' expr ')'. No unary operators. The whole sequence is parsed even after a
    division by zero, so a malformed formula is always SYNTAX_ERROR."""

    def __init__(self, tokens):
        self.tokens, self.pos, self.bad, self.div_zero = tokens, 0, False, False

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else -1

    def expr(self):
        a = self.term()
        while not self.bad and self.peek() in (PLUS, MINUS):
            sign = 1 if self.tokens[self.pos] == PLUS else -1
            self.pos += 1
            a = a + sign * self.term()
        return a

    def term(self):
        a = self.factor()
        while not self.bad and self.peek() in (TIMES, DIVIDE):
            times = self.tokens[self.pos] == TIMES
            self.pos += 1
            b = self.factor()
            if times:
                a = a * b
            elif b == 0:
                self.div_zero, a = True, Fraction(0)
            else:
                a = a / b
        return a

    def factor(self):
        t = self.peek()
        if 0 <= t < 10:
            self.pos += 1
            return Fraction(t + 1)
        if t == LPAREN:
            self.pos += 1
            a = self.expr()
            if self.peek() != RPAREN:
                self.bad = True
            else:
                self.pos += 1
            return a
        self.bad = True  # empty formula, operator where a number belongs, ')' too early, INVALID
        return Fraction(0)


def evaluate(tokens):
    """Exact value of a token formula: (status, Fraction); the value is meaningful only if status == OK."""
    tokens = [int(t) for t in tokens]
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"formula: at most {MAX_TOKENS} tokens, got {len(tokens)}")
    if any(not 0 <= t < NUM_TOKENS for t in tokens):
        raise ValueError(f"formula: tokens must be in 0..{NUM_TOKENS - 1}, got {tokens}")
    p = _Parser(tokens)
    value = p.expr()
    if p.bad or p.pos != len(tokens):
        return SYNTAX_ERROR, value
    return (DIV_BY_ZERO if p.div_zero else OK), value


def formula_text(tokens):
    """The formula as shown in the image and the prompt: tokens separated by spaces."""
    return " ".join(TOKEN_TEXT[t] for t in tokens)
