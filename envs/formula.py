"""Gym-Cards EZPoints (make 12 from two cards) and Points24 (make 24 from four): pure-Python twins of
csrc/formula.hpp, their exact formula evaluator, prompts and Task entries (rules: gymcards-spec.md).

Formulas are token sequences, never strings: token v - 1 is the number v (1..10), then the operators
below, so "2","4" is two adjacent numbers (a syntax error), not 24. Evaluation is exact
(fractions.Fraction) by a small recursive-descent parser; nothing is eval'd.
"""
import functools
from fractions import Fraction

import numpy as np

from . import render as R
from .base import Task, TwinEnv
from .rng import Rng
from .text import reply_format

# ---------------------------------------------------------------------------------------------------
# Exact formula evaluation

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


# ---------------------------------------------------------------------------------------------------
# Solvability (Points24 solvable_only; the C++ twin brute-forces instead, and the tests compare them)


def _splits(values):
    """Each way to split a sorted tuple into two non-empty parts, once (index 0 stays left)."""
    n = len(values)
    for mask in range(1, 1 << n, 2):
        if mask != (1 << n) - 1:
            yield (tuple(v for i, v in enumerate(values) if mask >> i & 1),
                   tuple(v for i, v in enumerate(values) if not mask >> i & 1))


@functools.lru_cache(maxsize=None)
def _reachable(values):
    """Every exact value of a formula that uses each of `values` (a sorted tuple) exactly once."""
    if len(values) == 1:
        return frozenset((Fraction(values[0]),))
    out = set()
    for left, right in _splits(values):
        for x in _reachable(left):
            for y in _reachable(right):
                out.update((x + y, x - y, y - x, x * y))
                if y:
                    out.add(x / y)
                if x:
                    out.add(y / x)
    return frozenset(out)


@functools.lru_cache(maxsize=None)
def _solvable(hand, target):
    """Splits the hand in two and looks for a partner value on the right for each value on the left."""
    for left, right in _splits(hand):
        ys = _reachable(right)
        for x in _reachable(left):  # is there a y with x (op) y == target?
            partners = (target - x, x - target, x + target)
            if x:
                partners += (target / x, x / target, target * x)
            if any(y in ys for y in partners):
                return True
    return False


def solvable(values, target=24):
    """Whether the card values, each used exactly once, can make `target` exactly."""
    return _solvable(tuple(sorted(int(v) for v in values)), Fraction(target))


# ---------------------------------------------------------------------------------------------------
# The games


class FormulaTwin(TwinEnv):
    """A hand of cards and a formula built one token per step; the last action "=" submits it.

    Step, in order: a formula already longer than max_length -> -1, terminated (a rule of the game, not a
    time limit, so nothing is bootstrapped from it). "=" -> +10 if the formula
    equals target exactly and uses every card exactly once, else -1 (syntax error, division by zero,
    wrong value, cards left over); terminated. A number the hand does not hold (or holds fewer times)
    -> -1 and an invalid placeholder "?" is appended, so illegal spam still ends the episode. Anything else is
    appended, reward 0.
    """

    num_cards: int
    target: int
    max_length: int
    operators: tuple  # the tokens of actions 10.. (before "=")
    card_width_per_40: int
    gap_margins: int

    def __init__(self, image_size: int = 300):
        super().__init__(image_size)
        self.cards: list[tuple[int, int]] = [(1, 0)] * self.num_cards  # (rank 1..13, suit 0..3)
        self.tokens: list[int] = []

    def deal(self, rng: Rng) -> list[tuple[int, int]]:
        raise NotImplementedError

    def reset(self, rng: Rng) -> None:
        self.cards, self.tokens = self.deal(rng), []

    def in_hand(self, token: int) -> int:
        return sum(min(rank, 10) == token + 1 for rank, _ in self.cards)

    def solved(self) -> bool:
        # numbers are appended only while the hand has them left: as many numbers as cards = each used once
        if sum(t < 10 for t in self.tokens) != self.num_cards:
            return False
        return evaluate(self.tokens) == (OK, self.target)

    def step(self, action: int, rng: Rng) -> tuple[float, bool, bool]:
        if len(self.tokens) > self.max_length:
            return -1.0, True, False
        if action == self.num_actions - 1:  # "="
            return (10.0 if self.solved() else -1.0), True, False
        token = action if action < 10 else self.operators[action - 10]
        if token < 10 and self.tokens.count(token) >= self.in_hand(token):
            self.tokens.append(INVALID)
            return -1.0, False, False
        self.tokens.append(token)
        return 0.0, False, False

    def render(self) -> np.ndarray:
        l = self.layout(self.image_size)
        img = self.background(self.image_size).copy()
        for x, (rank, suit) in zip(l["card_x"], self.cards):
            R.blit(img, x, l["card_y"], R.card_sprite(l["card_w"], l["card_h"], rank, suit))
        x, y, s = l["first_x"], l["text_y"], l["scale"]
        for text in (TOKEN_TEXT[t] for t in self.tokens):  # wrap at token boundaries
            if x + R.text_width(text, s) > l["right"] and x > l["margin"]:
                x, y = l["margin"], y + l["line_h"]
            R.draw_text(img, x, y, text, s, R.WHITE)
            x += (len(text) + 1) * R.ADVANCE * s
        return img

    @classmethod
    @functools.lru_cache(maxsize=None)
    def layout(cls, size: int) -> dict:
        """Cards in a row at the top; below them "Formula:" then the tokens, white, text scale size/100."""
        margin, scale = max(1, size // 50), max(1, size // 100)
        card_w = size * cls.card_width_per_40 // 40
        card_h = card_w * 7 // 5
        gap = cls.gap_margins * margin
        x0 = (size - cls.num_cards * card_w - (cls.num_cards - 1) * gap) // 2
        text_y = margin + card_h + 2 * margin
        return {"margin": margin, "scale": scale, "card_w": card_w, "card_h": card_h,
                "card_x": [x0 + k * (card_w + gap) for k in range(cls.num_cards)], "card_y": margin,
                "text_y": text_y, "line_h": R.GLYPH_H * scale + margin,
                "first_x": margin + len("Formula: ") * R.ADVANCE * scale, "right": size - margin}

    @classmethod
    @functools.lru_cache(maxsize=None)
    def background(cls, size: int) -> np.ndarray:
        l, img = cls.layout(size), R.blank(size, R.FELT)
        R.draw_text(img, l["margin"], l["text_y"], "Formula:", l["scale"], R.WHITE)
        img.flags.writeable = False
        return img

    def text(self) -> str:
        return formula_text(self.tokens)

    def get_state(self) -> list[int]:
        """[rank, suit] per card, then the formula length and its tokens."""
        return [v for card in self.cards for v in card] + [len(self.tokens)] + list(self.tokens)

    def set_state(self, state) -> None:
        name, n = type(self).__name__.removesuffix("Twin"), self.num_cards
        if len(state) < 2 * n + 1:
            raise ValueError(f"{name}.set_state: state too short")
        cards = [(state[2 * k], state[2 * k + 1]) for k in range(n)]
        if not all(1 <= r <= 13 and 0 <= s <= 3 for r, s in cards):
            raise ValueError(f"{name}.set_state: ranks must be 1..13 and suits 0..3")
        length, tokens = state[2 * n], list(state[2 * n + 1:])
        if not (0 <= length <= self.max_length + 1 and len(tokens) == length):
            raise ValueError(f"{name}.set_state: the formula length must match the tokens and be <= the limit + 1")
        allowed = set(range(10)) | set(self.operators) | {INVALID}
        if not all(t in allowed for t in tokens):
            raise ValueError(f"{name}.set_state: a token this game cannot produce")
        values = [min(r, 10) for r, _ in cards]
        if any(tokens.count(t) > values.count(t + 1) for t in range(10)):
            raise ValueError(f"{name}.set_state: the formula uses a number more often than the hand holds it")
        self.cards, self.tokens = cards, tokens


class EZPointsTwin(FormulaTwin):
    """Make 12 from two cards. Actions: 0-9 numbers 1..10, 10 "+", 11 "*", 12 "="; formulas up to 5 tokens.

    Deal: the first card's rank is uniform on 2..13 (value min(rank, 10)), then its suit; if its value v
    divides 12 into a card value (2, 3, 4, 6) the second value is 12 / v or 12 - v (a coin, 0 -> 12 / v),
    else 12 - v; the second card shows that number, with its own suit; then a coin (1) swaps the two.
    """

    num_cards, target, max_length, num_actions = 2, 12, 5, 13
    operators = (PLUS, TIMES)
    card_width_per_40, gap_margins = 18, 2  # cards 135x189 at 300 px, two margins apart

    def deal(self, rng: Rng) -> list[tuple[int, int]]:
        rank = rng.below(12) + 2
        suit = rng.below(4)
        v = min(rank, 10)
        second = 12 - v
        if v in (2, 3, 4, 6) and rng.below(2) == 0:
            second = 12 // v
        cards = [(rank, suit), (second, rng.below(4))]
        return cards[::-1] if rng.below(2) == 1 else cards


class Points24Twin(FormulaTwin):
    """Make 24 from four cards. Actions: 0-9 numbers 1..10, 10..16 "+ - * / ( ) ="; formulas up to 20 tokens.

    Deal: four independent cards, each a rank uniform on 1..13 (value min(rank, 10), A = 1) then a suit;
    with solvable_only the four are redealt until some formula makes 24 exactly.
    """

    num_cards, target, max_length, num_actions = 4, 24, 20, 17
    operators = (PLUS, MINUS, TIMES, DIVIDE, LPAREN, RPAREN)
    card_width_per_40, gap_margins = 9, 1  # cards 67x93 at 300 px, one margin apart

    def __init__(self, image_size: int = 300, solvable_only: bool = False):
        super().__init__(image_size)
        self.solvable_only = solvable_only

    def deal(self, rng: Rng) -> list[tuple[int, int]]:
        while True:
            cards = []
            for _ in range(4):
                rank = rng.below(13) + 1
                cards.append((rank, rng.below(4)))
            if not self.solvable_only or solvable([min(r, 10) for r, _ in cards]):
                return cards


# ---------------------------------------------------------------------------------------------------
# Text side

EZPOINTS_SYMBOLS = TOKEN_TEXT[:10] + ("+", "*", "=")
POINTS24_SYMBOLS = TOKEN_TEXT[:10] + ("+", "-", "*", "/", "(", ")", "=")


def _formula_prompt(game: str, cards: str, target: int, state: str, symbols) -> str:
    return (f"You are playing {game}. The image shows {cards}. Build a formula that equals {target} using each "
            "card's number exactly once, one symbol per turn, then submit it with \"=\". "
            f"Current formula: {state or '(empty)'}. " + reply_format(symbols))


def ezpoints_prompt(state: str) -> str:
    return _formula_prompt("EZPoints", "two cards (J, Q and K count 10)", 12, state, EZPOINTS_SYMBOLS)


def points24_prompt(state: str) -> str:
    cards = "four cards (A counts 1; J, Q and K count 10)"
    return _formula_prompt("Points24", cards, 24, state, POINTS24_SYMBOLS)


EZPOINTS = Task("gymcards/ezpoints", cpp="EZPoints", twin=EZPointsTwin, symbols=EZPOINTS_SYMBOLS,
                prompt=ezpoints_prompt)
POINTS24 = Task("gymcards/points24", cpp="Points24", twin=Points24Twin, symbols=POINTS24_SYMBOLS,
                prompt=points24_prompt,
                options={"image_size": (300, 32, 1024), "solvable_only": (False, False, True)})
