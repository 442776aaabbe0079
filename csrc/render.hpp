// Renderer: bitmap font, text, rectangles, procedurally drawn cards and card back.
// envs/render.py is the NumPy twin; both use the same tables and integer-only rules, so frames agree
// pixel for pixel. Images are row-major (h, w, 3) uint8 buffers; every primitive clips to the image.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace vldac {

struct Rgb {
    uint8_t r, g, b;
};
constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kFelt{0x35, 0x65, 0x4D};
constexpr Rgb kCardBorder{70, 70, 70}, kRed{200, 20, 30}, kBackFill{40, 70, 170}, kBackLine{200, 210, 240};

// A view of an (h, w, 3) uint8 buffer.
struct Image {
    uint8_t* px;
    int w, h;
};

// An owned image (background layers, card sprites).
struct Sprite {
    int w = 0, h = 0;
    std::vector<uint8_t> px;
    Sprite() = default;
    Sprite(int w_, int h_, Rgb c) : w(w_), h(h_), px(static_cast<size_t>(w_) * h_ * 3) {
        for (size_t i = 0; i < px.size(); i += 3) px[i] = c.r, px[i + 1] = c.g, px[i + 2] = c.b;
    }
    Image view() { return {px.data(), w, h}; }
};

// --- font: 5x9 glyphs for ASCII 32..126 (rows are 5-bit masks, bit 4 = leftmost column; capitals and
// digits use rows 0-6). Characters without a glyph of their own, and those outside the table, show a box.
constexpr int kGlyphW = 5, kGlyphH = 9, kAdvance = 6, kCapH = 7, kSuitN = 9, kFirstChar = 32, kLastChar = 126;
constexpr uint16_t kFont[95][9] = {
    {0,0,0,0,0,0,0,0,0},{4,4,4,4,4,0,4,0,0},{10,10,10,0,0,0,0,0,0},{10,10,31,10,31,10,10,0,0},
    {31,17,17,17,17,17,31,0,0},{31,17,17,17,17,17,31,0,0},{31,17,17,17,17,17,31,0,0},{4,4,4,0,0,0,0,0,0},
    {2,4,8,8,8,4,2,0,0},{8,4,2,2,2,4,8,0,0},{0,4,21,14,21,4,0,0,0},{0,4,4,31,4,4,0,0,0},{0,0,0,0,0,12,12,8,0},
    {0,0,0,31,0,0,0,0,0},{0,0,0,0,0,12,12,0,0},{1,1,2,4,8,16,16,0,0},{14,17,19,21,25,17,14,0,0},
    {4,12,4,4,4,4,14,0,0},{14,17,1,2,4,8,31,0,0},{31,2,4,2,1,17,14,0,0},{2,6,10,18,31,2,2,0,0},
    {31,16,30,1,1,17,14,0,0},{6,8,16,30,17,17,14,0,0},{31,1,2,4,8,8,8,0,0},{14,17,17,14,17,17,14,0,0},
    {14,17,17,15,1,2,12,0,0},{0,12,12,0,12,12,0,0,0},{31,17,17,17,17,17,31,0,0},{31,17,17,17,17,17,31,0,0},
    {0,0,31,0,31,0,0,0,0},{31,17,17,17,17,17,31,0,0},{14,17,1,2,4,0,4,0,0},{31,17,17,17,17,17,31,0,0},
    {14,17,17,31,17,17,17,0,0},{30,17,17,30,17,17,30,0,0},{14,17,16,16,16,17,14,0,0},{30,17,17,17,17,17,30,0,0},
    {31,16,16,30,16,16,31,0,0},{31,16,16,30,16,16,16,0,0},{14,17,16,23,17,17,15,0,0},{17,17,17,31,17,17,17,0,0},
    {14,4,4,4,4,4,14,0,0},{7,2,2,2,2,18,12,0,0},{17,18,20,24,20,18,17,0,0},{16,16,16,16,16,16,31,0,0},
    {17,27,21,21,17,17,17,0,0},{17,17,25,21,19,17,17,0,0},{14,17,17,17,17,17,14,0,0},{30,17,17,30,16,16,16,0,0},
    {14,17,17,17,21,18,13,0,0},{30,17,17,30,20,18,17,0,0},{15,16,16,14,1,1,30,0,0},{31,4,4,4,4,4,4,0,0},
    {17,17,17,17,17,17,14,0,0},{17,17,17,17,17,10,4,0,0},{17,17,17,21,21,21,10,0,0},{17,17,10,4,10,17,17,0,0},
    {17,17,10,4,4,4,4,0,0},{31,1,2,4,8,16,31,0,0},{31,17,17,17,17,17,31,0,0},{31,17,17,17,17,17,31,0,0},
    {31,17,17,17,17,17,31,0,0},{31,17,17,17,17,17,31,0,0},{0,0,0,0,0,0,31,0,0},{31,17,17,17,17,17,31,0,0},
    {0,0,14,1,15,17,15,0,0},{16,16,30,17,17,17,30,0,0},{0,0,14,16,16,16,14,0,0},{1,1,15,17,17,17,15,0,0},
    {0,0,14,17,31,16,14,0,0},{6,8,30,8,8,8,8,0,0},{0,0,15,17,17,17,15,1,14},{16,16,30,17,17,17,17,0,0},
    {4,0,12,4,4,4,14,0,0},{2,0,6,2,2,2,2,18,12},{16,16,18,20,24,20,18,0,0},{12,4,4,4,4,4,14,0,0},
    {0,0,26,21,21,21,21,0,0},{0,0,30,17,17,17,17,0,0},{0,0,14,17,17,17,14,0,0},{0,0,30,17,17,17,30,16,16},
    {0,0,15,17,17,17,15,1,1},{0,0,22,25,16,16,16,0,0},{0,0,15,16,14,1,30,0,0},{8,8,30,8,8,9,6,0,0},
    {0,0,17,17,17,19,13,0,0},{0,0,17,17,17,10,4,0,0},{0,0,17,17,21,21,10,0,0},{0,0,17,10,4,10,17,0,0},
    {0,0,17,17,17,17,15,1,14},{0,0,31,2,4,8,31,0,0},{31,17,17,17,17,17,31,0,0},{31,17,17,17,17,17,31,0,0},
    {31,17,17,17,17,17,31,0,0},{31,17,17,17,17,17,31,0,0},
};
constexpr uint16_t kBox[9] = {31, 17, 17, 17, 17, 17, 31, 0, 0};
// --- suit marks, 9x9 (rows are 9-bit masks, bit 8 = leftmost column): clubs, diamonds, hearts, spades.
enum Suit { kClubs = 0, kDiamonds = 1, kHearts = 2, kSpades = 3 };
constexpr uint16_t kSuits[4][9] = {
    {56,124,124,443,511,511,403,16,124},
    {16,56,124,254,511,254,124,56,16},
    {198,495,511,511,254,124,56,16,0},
    {16,56,124,254,511,511,214,16,124},
};
inline const char* rank_label(int rank) {  // rank 1..13
    static const char* const labels[14] = {"", "A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K"};
    return labels[rank];
}

// --- primitives

// Floor division (Python's //), so that centring a too-wide glyph rounds the same way in both twins.
inline int fdiv(int a, int b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

inline void fill_rect(Image im, int x, int y, int w, int h, Rgb c) {
    const int x0 = std::max(x, 0), y0 = std::max(y, 0), x1 = std::min(x + w, im.w), y1 = std::min(y + h, im.h);
    for (int yy = y0; yy < y1; ++yy) {
        uint8_t* p = im.px + (static_cast<size_t>(yy) * im.w + x0) * 3;
        for (int xx = x0; xx < x1; ++xx, p += 3) p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

// Draws an ncols x nrows bitmap at integer `scale`, offset by (ox, 0) inside a box_w x box_h box whose
// top-left corner is at (x, y); rot180 turns the whole box upside down.
inline void draw_bitmap(Image im, int x, int y, const uint16_t* rows, int ncols, int nrows, int ox, int box_w,
                        int box_h, int scale, Rgb c, bool rot180) {
    for (int r = 0; r < nrows; ++r)
        for (int col = 0; col < ncols; ++col) {
            if (!((rows[r] >> (ncols - 1 - col)) & 1)) continue;
            int px = ox + col * scale, py = r * scale;
            if (rot180) px = box_w - px - scale, py = box_h - py - scale;
            fill_rect(im, x + px, y + py, scale, scale, c);
        }
}

inline int text_width(const std::string& text, int scale) {
    return text.empty() ? 0 : static_cast<int>(text.size()) * kAdvance * scale - scale;
}

// Draws `text` with its (text_width, 9*scale) box at (x, y). Bytes outside ASCII 32..126 show a box (the
// Python twin does the same per character; callers pass ASCII).
inline void draw_text(Image im, int x, int y, const std::string& text, int scale, Rgb c, bool rot180 = false) {
    const int bw = text_width(text, scale), bh = kGlyphH * scale;
    for (size_t k = 0; k < text.size(); ++k) {
        const int code = static_cast<unsigned char>(text[k]);
        const uint16_t* rows = code >= kFirstChar && code <= kLastChar ? kFont[code - kFirstChar] : kBox;
        draw_bitmap(im, x, y, rows, kGlyphW, kGlyphH, static_cast<int>(k) * kAdvance * scale, bw, bh, scale, c, rot180);
    }
}

inline void draw_suit(Image im, int x, int y, int suit, int scale, Rgb c, bool rot180 = false) {
    draw_bitmap(im, x, y, kSuits[suit], kSuitN, kSuitN, 0, kSuitN * scale, kSuitN * scale, scale, c, rot180);
}

// Copies an opaque sprite with its top-left corner at (x, y), clipped.
inline void blit(Image im, int x, int y, const Sprite& s) {
    const int x0 = std::max(x, 0), y0 = std::max(y, 0), x1 = std::min(x + s.w, im.w), y1 = std::min(y + s.h, im.h);
    if (x0 >= x1) return;
    for (int yy = y0; yy < y1; ++yy)
        std::memcpy(im.px + (static_cast<size_t>(yy) * im.w + x0) * 3,
                    s.px.data() + (static_cast<size_t>(yy - y) * s.w + (x0 - x)) * 3, static_cast<size_t>(x1 - x0) * 3);
}

// --- cards

inline int card_pad(int w) { return std::max(1, w / 40) + std::max(1, w / 16); }

// White rounded rectangle (corner radius max(1, w/8)) with a border max(1, w/40) wide, on `background`.
inline Sprite card_base(int w, int h, Rgb background) {
    Sprite s(w, h, background);
    const int r = std::max(1, w / 8), b = std::max(1, w / 40);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            // distance to the nearest corner-circle centre in doubled pixel-centre coordinates
            const int cx = std::min(2 * x + 1, 2 * (w - 1 - x) + 1) - 2 * r;
            const int cy = std::min(2 * y + 1, 2 * (h - 1 - y) + 1) - 2 * r;
            const bool corner = cx < 0 && cy < 0;
            const int d2 = cx * cx + cy * cy;
            if (corner && d2 > 4 * r * r) continue;
            const bool edge = x < b || y < b || x >= w - b || y >= h - b || (corner && d2 > 4 * (r - b) * (r - b));
            fill_rect(s.view(), x, y, 1, 1, edge ? kCardBorder : kWhite);
        }
    return s;
}

// A face-up card, rank 1..13, suit 0..3 (layout described in envs/render.py: card_sprite).
inline Sprite card_sprite(int w, int h, int rank, int suit, Rgb background = kFelt) {
    Sprite s = card_base(w, h, background);
    const std::string label = rank_label(rank);
    const Rgb color = suit == kDiamonds || suit == kHearts ? kRed : kBlack;
    const int pad = card_pad(w);
    if (w >= 40) {
        const int rs = std::max(1, (w + 8) / 25), ss = std::max(1, 5 * rs / 9);
        const int bw = text_width(label, rs), bh = kGlyphH * rs;
        draw_text(s.view(), pad, pad, label, rs, color);
        draw_suit(s.view(), pad, pad + (kCapH + 1) * rs, suit, ss, color);
        draw_text(s.view(), w - pad - bw, h - pad - bh, label, rs, color, true);
        draw_suit(s.view(), w - pad - kSuitN * ss, h - pad - (kCapH + 1) * rs - kSuitN * ss, suit, ss, color, true);
        const int cs = std::max(1, w / 18);
        draw_suit(s.view(), fdiv(w - kSuitN * cs, 2), fdiv(h - kSuitN * cs, 2), suit, cs, color);
    } else {
        const int n = static_cast<int>(label.size());
        const int rs = std::max(1, std::min(fdiv(w - 2 * pad, n * kAdvance - 1), h / 14));
        const int ss = std::max(1, std::min(fdiv(w - 2 * pad, kSuitN), fdiv(h - kCapH * rs - 3 * pad, kSuitN)));
        draw_text(s.view(), fdiv(w - text_width(label, rs), 2), pad, label, rs, color);
        draw_suit(s.view(), fdiv(w - kSuitN * ss, 2), h - pad - kSuitN * ss, suit, ss, color);
    }
    return s;
}

// The back of a card: a blue panel with a light diamond lattice.
inline Sprite card_back(int w, int h, Rgb background = kFelt) {
    Sprite s = card_base(w, h, background);
    const int pad = card_pad(w), p = std::max(3, w / 6);
    for (int y = 0; y < h - 2 * pad; ++y)
        for (int x = 0; x < w - 2 * pad; ++x) {
            const bool line = (x + y) % p == 0 || ((x - y) % p + p) % p == 0;
            fill_rect(s.view(), pad + x, pad + y, 1, 1, line ? kBackLine : kBackFill);
        }
    return s;
}

// All 52 faces and the back at one card size, drawn once per batch.
struct CardSprites {
    int w = 0, h = 0;
    std::vector<Sprite> faces;  // index (rank - 1) * 4 + suit
    Sprite back;
    CardSprites() = default;
    CardSprites(int w_, int h_, Rgb background = kFelt) : w(w_), h(h_), back(card_back(w_, h_, background)) {
        for (int rank = 1; rank <= 13; ++rank)
            for (int suit = 0; suit < 4; ++suit) faces.push_back(card_sprite(w_, h_, rank, suit, background));
    }
    const Sprite& face(int rank, int suit) const { return faces[(rank - 1) * 4 + suit]; }
};

}  // namespace vldac
