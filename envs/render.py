"""NumPy twin of csrc/render.hpp: bitmap font, text, rectangles, procedurally drawn cards.

Images are (H, W, 3) uint8 arrays. Every primitive clips to the image and uses integer arithmetic
only, so the C++ renderer reproduces it pixel for pixel (tests/test_gymcards.py checks the font and
suit tables against the copies compiled into envs._C, and whole frames in lock step).

Font: our own 5x9 glyph table (caps and digits use rows 0-6, rows 7-8 hold descenders), drawn at an
integer scale s with an advance of 6*s pixels per character. Characters outside the table are drawn as
a hollow box.
"""
from functools import lru_cache

import numpy as np

# ---------------------------------------------------------------------------------------------------
# Tables (keep identical to csrc/render.hpp: kFont, kSuits)

_GLYPHS = """
! ..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..
" .#.#. .#.#. .#.#. ..... ..... ..... .....
# .#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.
' ..#.. ..#.. ..#.. ..... ..... ..... .....
( ...#. ..#.. .#... .#... .#... ..#.. ...#.
) .#... ..#.. ...#. ...#. ...#. ..#.. .#...
* ..... ..#.. #.#.# .###. #.#.# ..#.. .....
+ ..... ..#.. ..#.. ##### ..#.. ..#.. .....
, ..... ..... ..... ..... ..... .##.. .##.. .#... .....
- ..... ..... ..... ##### ..... ..... .....
. ..... ..... ..... ..... ..... .##.. .##..
/ ....# ....# ...#. ..#.. .#... #.... #....
0 .###. #...# #..## #.#.# ##..# #...# .###.
1 ..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.
2 .###. #...# ....# ...#. ..#.. .#... #####
3 ##### ...#. ..#.. ...#. ....# #...# .###.
4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
5 ##### #.... ####. ....# ....# #...# .###.
6 ..##. .#... #.... ####. #...# #...# .###.
7 ##### ....# ...#. ..#.. .#... .#... .#...
8 .###. #...# #...# .###. #...# #...# .###.
9 .###. #...# #...# .#### ....# ...#. .##..
: ..... .##.. .##.. ..... .##.. .##.. .....
= ..... ..... ##### ..... ##### ..... .....
? .###. #...# ....# ...#. ..#.. ..... ..#..
A .###. #...# #...# ##### #...# #...# #...#
B ####. #...# #...# ####. #...# #...# ####.
C .###. #...# #.... #.... #.... #...# .###.
D ####. #...# #...# #...# #...# #...# ####.
E ##### #.... #.... ####. #.... #.... #####
F ##### #.... #.... ####. #.... #.... #....
G .###. #...# #.... #.### #...# #...# .####
H #...# #...# #...# ##### #...# #...# #...#
I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
J ..### ...#. ...#. ...#. ...#. #..#. .##..
K #...# #..#. #.#.. ##... #.#.. #..#. #...#
L #.... #.... #.... #.... #.... #.... #####
M #...# ##.## #.#.# #.#.# #...# #...# #...#
N #...# #...# ##..# #.#.# #..## #...# #...#
O .###. #...# #...# #...# #...# #...# .###.
P ####. #...# #...# ####. #.... #.... #....
Q .###. #...# #...# #...# #.#.# #..#. .##.#
R ####. #...# #...# ####. #.#.. #..#. #...#
S .#### #.... #.... .###. ....# ....# ####.
T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
U #...# #...# #...# #...# #...# #...# .###.
V #...# #...# #...# #...# #...# .#.#. ..#..
W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
X #...# #...# .#.#. ..#.. .#.#. #...# #...#
Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
Z ##### ....# ...#. ..#.. .#... #.... #####
_ ..... ..... ..... ..... ..... ..... #####
a ..... ..... .###. ....# .#### #...# .####
b #.... #.... ####. #...# #...# #...# ####.
c ..... ..... .###. #.... #.... #.... .###.
d ....# ....# .#### #...# #...# #...# .####
e ..... ..... .###. #...# ##### #.... .###.
f ..##. .#... ####. .#... .#... .#... .#...
g ..... ..... .#### #...# #...# #...# .#### ....# .###.
h #.... #.... ####. #...# #...# #...# #...#
i ..#.. ..... .##.. ..#.. ..#.. ..#.. .###.
j ...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..
k #.... #.... #..#. #.#.. ##... #.#.. #..#.
l .##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
m ..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#
n ..... ..... ####. #...# #...# #...# #...#
o ..... ..... .###. #...# #...# #...# .###.
p ..... ..... ####. #...# #...# #...# ####. #.... #....
q ..... ..... .#### #...# #...# #...# .#### ....# ....#
r ..... ..... #.##. ##..# #.... #.... #....
s ..... ..... .#### #.... .###. ....# ####.
t .#... .#... ####. .#... .#... .#..# ..##.
u ..... ..... #...# #...# #...# #..## .##.#
v ..... ..... #...# #...# #...# .#.#. ..#..
w ..... ..... #...# #...# #.#.# #.#.# .#.#.
x ..... ..... #...# .#.#. ..#.. .#.#. #...#
y ..... ..... #...# #...# #...# #...# .#### ....# .###.
z ..... ..... ##### ...#. ..#.. .#... #####
"""
_MISSING = "##### #...# #...# #...# #...# #...# #####".split()

_SUITS = """
...###... ..#####.. ..#####.. ##.###.## ######### ######### ##..#..## ....#.... ..#####..
....#.... ...###... ..#####.. .#######. ######### .#######. ..#####.. ...###... ....#....
.##...##. ####.#### ######### ######### .#######. ..#####.. ...###... ....#.... .........
....#.... ...###... ..#####.. .#######. ######### ######### .##.#.##. ....#.... ..#####..
"""

GLYPH_W, GLYPH_H, ADVANCE = 5, 9, 6  # glyph box (columns, rows) and advance per character, in font pixels
CAP_H = 7  # rows used by capitals and digits
SUIT_N = 9  # suit marks are 9x9
FIRST_CHAR, LAST_CHAR = 32, 126
CLUBS, DIAMONDS, HEARTS, SPADES = range(4)
RANKS = ("", "A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")  # RANKS[1..13]


def _bits(rows: list[str]) -> list[int]:
    return [int(r.replace("#", "1").replace(".", "0"), 2) for r in rows] + [0] * (GLYPH_H - len(rows))


def _font_rows() -> np.ndarray:
    table = np.array([_bits(_MISSING)] * (LAST_CHAR - FIRST_CHAR + 1), dtype=np.uint16)
    table[0] = 0  # space
    for line in _GLYPHS.strip("\n").split("\n"):
        char, *rows = line.split(" ")
        table[ord(char) - FIRST_CHAR] = _bits(rows)
    return table


FONT_ROWS = _font_rows()  # (95, 9) row bitmasks, bit 4 = leftmost column
SUIT_ROWS = np.array([_bits(line.split()) for line in _SUITS.strip().split("\n")], np.uint16)  # (4, 9)


def _unpack(rows: np.ndarray, width: int) -> np.ndarray:
    return ((rows[..., None] >> np.arange(width - 1, -1, -1)) & 1).astype(bool)


FONT = _unpack(FONT_ROWS, GLYPH_W)  # (95, 9, 5) bool
BOX = _unpack(np.array(_bits(_MISSING)), GLYPH_W)  # drawn for characters outside the table
SUITS = _unpack(SUIT_ROWS, SUIT_N)  # (4, 9, 9) bool

# ---------------------------------------------------------------------------------------------------
# Colours (RGB)

WHITE, BLACK = (255, 255, 255), (0, 0, 0)
FELT = (0x35, 0x65, 0x4D)
CARD_BORDER, RED = (70, 70, 70), (200, 20, 30)
BACK_FILL, BACK_LINE = (40, 70, 170), (200, 210, 240)

# ---------------------------------------------------------------------------------------------------
# Primitives


def blank(size: int, color) -> np.ndarray:
    img = np.empty((size, size, 3), np.uint8)
    img[:] = color
    return img


def paint(img: np.ndarray, x: int, y: int, mask: np.ndarray, color) -> None:
    """Sets the pixels where `mask` (h, w) is true, with its top-left corner at (x, y), clipped."""
    h, w = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, img.shape[1]), min(y + h, img.shape[0])
    if x0 < x1 and y0 < y1:
        img[y0:y1, x0:x1][mask[y0 - y:y1 - y, x0 - x:x1 - x]] = color


def fill_rect(img: np.ndarray, x: int, y: int, w: int, h: int, color) -> None:
    paint(img, x, y, np.ones((max(h, 0), max(w, 0)), bool), color)


def text_width(text: str, scale: int) -> int:
    return max(len(text) * ADVANCE * scale - scale, 0)


def text_mask(text: str, scale: int) -> np.ndarray:
    """(9*scale, text_width) bool mask of `text` at integer `scale`."""
    mask = np.zeros((GLYPH_H, max(len(text) * ADVANCE - 1, 0)), bool)
    for k, ch in enumerate(text):
        code = ord(ch)
        mask[:, k * ADVANCE:k * ADVANCE + GLYPH_W] = FONT[code - FIRST_CHAR] if FIRST_CHAR <= code <= LAST_CHAR else BOX
    return mask.repeat(scale, 0).repeat(scale, 1)


def draw_text(img: np.ndarray, x: int, y: int, text: str, scale: int, color, rot180: bool = False) -> None:
    """Draws `text` with its (text_width, 9*scale) box at (x, y); rot180 turns the box upside down."""
    mask = text_mask(text, scale)
    paint(img, x, y, mask[::-1, ::-1] if rot180 else mask, color)


def draw_suit(img: np.ndarray, x: int, y: int, suit: int, scale: int, color, rot180: bool = False) -> None:
    mask = SUITS[suit].repeat(scale, 0).repeat(scale, 1)
    paint(img, x, y, mask[::-1, ::-1] if rot180 else mask, color)


# ---------------------------------------------------------------------------------------------------
# Cards


def _rounded_rect(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(inside, border) masks of a w x h card: corner radius max(1, w/8), border max(1, w/40)."""
    r, b = max(1, w // 8), max(1, w // 40)
    ys, xs = np.mgrid[0:h, 0:w]
    # distance to the nearest corner-circle centre in doubled pixel-centre coordinates (integers)
    cx = np.minimum(2 * xs + 1, 2 * (w - 1 - xs) + 1) - 2 * r
    cy = np.minimum(2 * ys + 1, 2 * (h - 1 - ys) + 1) - 2 * r
    corner = (cx < 0) & (cy < 0)
    d2 = cx * cx + cy * cy
    inside = ~corner | (d2 <= 4 * r * r)
    edge = (xs < b) | (ys < b) | (xs >= w - b) | (ys >= h - b) | (corner & (d2 > 4 * (r - b) * (r - b)))
    return inside, inside & edge


def card_pad(w: int) -> int:
    return max(1, w // 40) + max(1, w // 16)


@lru_cache(maxsize=None)
def card_sprite(w: int, h: int, rank: int, suit: int, background=FELT) -> np.ndarray:
    """A face-up card (rank 1..13, suit 0..3) on `background`, as a read-only (h, w, 3) array.

    Cards at least 40 px wide show the rank and a small suit mark in the top-left corner (and turned by
    180 degrees in the bottom-right one) and a large suit mark in the centre; narrower cards show one
    large rank over one suit mark, which stays legible at 84x84 frames.
    """
    img = _card_base(w, h, background)
    label, color = RANKS[rank], (RED if suit in (DIAMONDS, HEARTS) else BLACK)
    pad = card_pad(w)
    if w >= 40:
        rs = max(1, (w + 8) // 25)
        ss = max(1, 5 * rs // 9)
        bw, bh = text_width(label, rs), GLYPH_H * rs
        draw_text(img, pad, pad, label, rs, color)
        draw_suit(img, pad, pad + (CAP_H + 1) * rs, suit, ss, color)
        draw_text(img, w - pad - bw, h - pad - bh, label, rs, color, rot180=True)
        draw_suit(img, w - pad - SUIT_N * ss, h - pad - (CAP_H + 1) * rs - SUIT_N * ss, suit, ss, color, rot180=True)
        cs = max(1, w // 18)
        draw_suit(img, (w - SUIT_N * cs) // 2, (h - SUIT_N * cs) // 2, suit, cs, color)
    else:
        rs = max(1, min((w - 2 * pad) // (len(label) * ADVANCE - 1), h // 14))
        ss = max(1, min((w - 2 * pad) // SUIT_N, (h - CAP_H * rs - 3 * pad) // SUIT_N))
        draw_text(img, (w - text_width(label, rs)) // 2, pad, label, rs, color)
        draw_suit(img, (w - SUIT_N * ss) // 2, h - pad - SUIT_N * ss, suit, ss, color)
    img.flags.writeable = False
    return img


@lru_cache(maxsize=None)
def card_back(w: int, h: int, background=FELT) -> np.ndarray:
    """The back of a card: a blue panel with a light diamond lattice, as a read-only (h, w, 3) array."""
    img = _card_base(w, h, background)
    pad, p = card_pad(w), max(3, w // 6)
    ys, xs = np.mgrid[0:h - 2 * pad, 0:w - 2 * pad]
    panel = np.where(((xs + ys) % p == 0)[..., None] | ((xs - ys) % p == 0)[..., None], BACK_LINE, BACK_FILL)
    img[pad:h - pad, pad:w - pad] = panel
    img.flags.writeable = False
    return img


def _card_base(w: int, h: int, background) -> np.ndarray:
    inside, border = _rounded_rect(w, h)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = background
    img[inside] = WHITE
    img[border] = CARD_BORDER
    return img


def blit(img: np.ndarray, x: int, y: int, sprite: np.ndarray) -> None:
    """Copies an opaque sprite with its top-left corner at (x, y), clipped."""
    h, w = sprite.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, img.shape[1]), min(y + h, img.shape[0])
    if x0 < x1 and y0 < y1:
        img[y0:y1, x0:x1] = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
