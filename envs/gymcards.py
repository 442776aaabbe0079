"""Gym-Cards NumberLine and Blackjack: pure-Python twins of csrc/gymcards.hpp, prompts and Task entries.

Rules are in ../shared/gymcards-spec.md; these classes are the readable spec the C++ batches are tested
against (same RNG draws in the same order, same pixels).
"""
from functools import lru_cache

import numpy as np

from . import render as R
from .base import Task, TwinEnv
from .rng import Rng
from .text import reply_format

# ---------------------------------------------------------------------------------------------------
# NumberLine


class NumberLineTwin(TwinEnv):
    """Move "Current" to "Target" on 0..5. Actions: 0 "-" (not below 0), 1 "+" (not above 5).

    Reward +1 and terminated on reaching the target, -1 when the distance did not shrink, else 0;
    truncated after 10 steps. Start and target are uniform on 0..5 with the target redrawn until distinct.
    """

    num_actions, max_position, max_steps = 2, 5, 10

    def __init__(self, image_size: int = 300):
        super().__init__(image_size)
        self.position, self.goal, self.steps = 0, 1, 0

    def reset(self, rng: Rng) -> None:
        self.position = rng.below(self.max_position + 1)
        self.goal = rng.below(self.max_position + 1)
        while self.goal == self.position:
            self.goal = rng.below(self.max_position + 1)
        self.steps = 0

    def step(self, action: int, rng: Rng) -> tuple[float, bool, bool]:
        before = abs(self.position - self.goal)
        self.position = max(0, self.position - 1) if action == 0 else min(self.max_position, self.position + 1)
        self.steps += 1
        if self.position == self.goal:
            return 1.0, True, False
        reward = 0.0 if abs(self.position - self.goal) < before else -1.0
        return reward, False, self.steps >= self.max_steps

    def render(self) -> np.ndarray:
        layout = numberline_layout(self.image_size)
        img = _numberline_background(self.image_size).copy()
        R.draw_text(img, layout["digit_x"], layout["digit_y"][0], str(self.goal), layout["digit_scale"], R.BLACK)
        R.draw_text(img, layout["digit_x"], layout["digit_y"][1], str(self.position), layout["digit_scale"], R.BLACK)
        return img

    def get_state(self) -> list[int]:
        return [self.position, self.goal, self.steps]

    def set_state(self, state) -> None:
        if len(state) != 3:
            raise ValueError("NumberLine.set_state: expected [position, goal, steps]")
        position, goal, steps = state
        if not (0 <= position <= 5 and 0 <= goal <= 5 and position != goal):
            raise ValueError("NumberLine.set_state: position and goal must be distinct values in 0..5")
        if not 0 <= steps < self.max_steps:
            raise ValueError("NumberLine.set_state: steps must be in 0..9")
        self.position, self.goal, self.steps = position, goal, steps


def numberline_layout(size: int) -> dict:
    """Two rows (halves): a small label at the top left and the digit as large as the row allows,
    right-aligned. Big glyphs matter: at 84x84 a small VLM reads a 25x35 px digit easily, a 10x14 one barely."""
    half = size // 2
    margin = label_scale = max(1, size // 84)
    digit_scale = max(1, (half - 2 * margin) // R.CAP_H)
    return {"margin": margin, "label_scale": label_scale, "digit_scale": digit_scale,
            "label_y": [row * half + margin for row in range(2)],
            "digit_x": size - margin - R.GLYPH_W * digit_scale,
            "digit_y": [row * half + (half - R.CAP_H * digit_scale) // 2 for row in range(2)]}


@lru_cache(maxsize=None)
def _numberline_background(size: int) -> np.ndarray:
    layout, img = numberline_layout(size), R.blank(size, R.WHITE)
    for text, y in zip(("Target:", "Current:"), layout["label_y"]):
        R.draw_text(img, layout["margin"], y, text, layout["label_scale"], R.BLACK)
    img.flags.writeable = False
    return img


def numberline_prompt(state: str) -> str:
    return ('You are playing NumberLine. The image shows "Target: t" and "Current: c", integers from 0 to 5. '
            'Move Current to Target one step at a time: "-" subtracts 1, "+" adds 1. '
            + reply_format(NUMBERLINE_SYMBOLS))


NUMBERLINE_SYMBOLS = ("-", "+")
NUMBERLINE = Task("gymcards/numberline", cpp="NumberLine", twin=NumberLineTwin, symbols=NUMBERLINE_SYMBOLS,
                  prompt=numberline_prompt)

# ---------------------------------------------------------------------------------------------------
# Blackjack


def card_value(rank: int) -> int:
    return min(rank, 10)


def _total(hard: int, ace: bool) -> int:
    """A hand's total from its sum with aces as 1 and whether it holds one (a usable ace adds 10)."""
    return hard + 10 if ace and hard + 10 <= 21 else hard


def hand_total(ranks) -> int:
    """Blackjack total: an ace counts 11 when that keeps the hand at 21 or less (a usable ace)."""
    return _total(sum(card_value(r) for r in ranks), 1 in ranks)


class BlackjackTwin(TwinEnv):
    """gymnasium's Blackjack (infinite deck, natural=False, sab=False) with cards drawn as images.

    Actions: 0 stand, 1 hit. Each dealt card draws a rank 1..13 (value min(rank, 10)) and then a suit 0..3.
    Reset deals the dealer two cards (the second stays hidden: drawn as a card back, never in text), then
    the player two. Hit: bust -> -1, terminated. Stand: the dealer draws while below 17, then +1/0/-1 by
    comparing scores (bust scores 0), terminated.
    """

    num_actions = 2

    def __init__(self, image_size: int = 300):
        super().__init__(image_size)
        self.dealer: list[tuple[int, int]] = []  # (rank, suit)
        self.player: list[tuple[int, int]] = []

    @staticmethod
    def _deal(rng: Rng) -> tuple[int, int]:
        rank = rng.below(13) + 1
        return rank, rng.below(4)

    def reset(self, rng: Rng) -> None:
        self.dealer = [self._deal(rng), self._deal(rng)]
        self.player = [self._deal(rng), self._deal(rng)]

    def step(self, action: int, rng: Rng) -> tuple[float, bool, bool]:
        if action == 1:  # hit
            self.player.append(self._deal(rng))
            bust = hand_total([r for r, _ in self.player]) > 21
            return (-1.0 if bust else 0.0), bust, False
        while hand_total([r for r, _ in self.dealer]) < 17:  # stand: the dealer plays
            self.dealer.append(self._deal(rng))
        player, dealer = (hand_total([r for r, _ in hand]) for hand in (self.player, self.dealer))
        player, dealer = (0 if t > 21 else t for t in (player, dealer))
        return float((player > dealer) - (player < dealer)), True, False

    def render(self) -> np.ndarray:
        l = blackjack_layout(self.image_size)
        w, h = l["card_w"], l["card_h"]
        img = _blackjack_background(self.image_size).copy()
        R.blit(img, l["slot_x"](0), l["dealer_y"], R.card_sprite(w, h, *self.dealer[0]))
        R.blit(img, l["slot_x"](1), l["dealer_y"], R.card_back(w, h))  # the hidden card is never drawn
        for k, card in enumerate(self.player):
            R.blit(img, l["slot_x"](k), l["player_slot_y"](k), R.card_sprite(w, h, *card))
        return img

    def get_state(self) -> list[int]:
        state = []
        for hand in (self.dealer, self.player):
            state += [len(hand)] + [v for card in hand for v in card]
        return state

    def set_state(self, state) -> None:
        hands, at = [], 0
        for _ in range(2):
            if at >= len(state):
                raise ValueError("Blackjack.set_state: state too short")
            n = state[at]
            at += 1
            if not (2 <= n <= 22 and at + 2 * n <= len(state)):
                raise ValueError("Blackjack.set_state: bad card count")
            hand = [(state[at + 2 * k], state[at + 2 * k + 1]) for k in range(n)]
            if not all(1 <= r <= 13 and 0 <= s <= 3 for r, s in hand):
                raise ValueError("Blackjack.set_state: ranks must be 1..13 and suits 0..3")
            hands.append(hand)
            at += 2 * n
        if at != len(state):
            raise ValueError("Blackjack.set_state: state too long")
        if len(hands[0]) != 2:
            raise ValueError("Blackjack.set_state: the dealer holds exactly 2 cards during play")
        if hand_total([r for r, _ in hands[1]]) > 21:
            raise ValueError("Blackjack.set_state: the player's hand is bust")
        self.dealer, self.player = hands


CARD_PROBABILITY = {v: (4 if v == 10 else 1) / 13 for v in range(1, 11)}  # card values of the infinite deck


@lru_cache(maxsize=None)
def dealer_outcomes(hard: int, ace: bool) -> dict:
    """{final dealer score: probability} from a dealer hand (sum with aces as 1, holds an ace); bust scores 0."""
    if _total(hard, ace) >= 17:
        return {0 if hard > 21 else _total(hard, ace): 1.0}
    out = {}
    for v, p in CARD_PROBABILITY.items():
        for score, q in dealer_outcomes(hard + v, ace or v == 1).items():
            out[score] = out.get(score, 0.0) + p * q
    return out


@lru_cache(maxsize=None)
def blackjack_basic(hard: int, ace: bool, up: int) -> tuple[int, float, float]:
    """The hit/stand choice that maximises the expected return, by dynamic programming over the player's
    hand (sum with aces as 1, holds an ace) against the dealer's face-up card value `up` (1 = ace; the
    hidden card is any card): (action 0 stand / 1 hit, expected return, P(win)) from here on."""
    score, dealer = _total(hard, ace), dealer_outcomes(up, up == 1).items()  # its first draw: the hidden card
    stand = (sum(p * ((score > d) - (score < d)) for d, p in dealer), sum(p for d, p in dealer if score > d))
    hit = (0.0, 0.0)
    for v, p in CARD_PROBABILITY.items():
        ret, win = blackjack_basic(hard + v, ace or v == 1, up)[1:] if hard + v <= 21 else (-1.0, 0.0)
        hit = (hit[0] + p * ret, hit[1] + p * win)
    return (0, *stand) if stand[0] >= hit[0] else (1, *hit)


def blackjack_basic_action(state) -> int:
    """blackjack_basic's action for an env state (get_state's list: dealer's hand, then the player's)."""
    values = [card_value(r) for r in state[2 * state[0] + 2::2]]
    return blackjack_basic(sum(values), 1 in values, card_value(state[1]))[0]


def blackjack_layout(size: int) -> dict:
    """"Dealer" label, dealer row (face-up card, card back), "Player" label, player rows of 5 cards."""
    margin, label_scale = max(1, size // 50), max(1, size // 100)
    card_w = (size - 6 * margin) // 5
    card_h = card_w * 4 // 3
    dealer_label_y = margin
    dealer_y = dealer_label_y + R.GLYPH_H * label_scale + margin
    player_label_y = dealer_y + card_h + margin
    player_y = player_label_y + R.GLYPH_H * label_scale + margin
    return {"margin": margin, "label_scale": label_scale, "card_w": card_w, "card_h": card_h,
            "dealer_label_y": dealer_label_y, "dealer_y": dealer_y, "player_label_y": player_label_y,
            "slot_x": lambda k: margin + (k % 5) * (card_w + margin),
            "player_slot_y": lambda k: player_y + (k // 5) * (card_h + margin)}


@lru_cache(maxsize=None)
def _blackjack_background(size: int) -> np.ndarray:
    l, img = blackjack_layout(size), R.blank(size, R.FELT)
    R.draw_text(img, l["margin"], l["dealer_label_y"], "Dealer", l["label_scale"], R.WHITE)
    R.draw_text(img, l["margin"], l["player_label_y"], "Player", l["label_scale"], R.WHITE)
    img.flags.writeable = False
    return img


def blackjack_prompt(state: str) -> str:
    return ("You are playing Blackjack. The image shows the dealer's face-up card and hidden card, and your "
            'cards. Beat the dealer without going over 21: "hit" takes a card, "stand" ends your turn. '
            "Aces count 1 or 11; J, Q and K count 10. " + reply_format(BLACKJACK_SYMBOLS))


BLACKJACK_SYMBOLS = ("stand", "hit")
BLACKJACK = Task("gymcards/blackjack", cpp="Blackjack", twin=BlackjackTwin, symbols=BLACKJACK_SYMBOLS,
                 prompt=blackjack_prompt)
