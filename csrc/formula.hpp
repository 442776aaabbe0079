// Formula games of Gym-Cards (EZPoints: make 12 from two cards; Points24: make 24 from four) and the
// exact rational evaluator they share. Spec: ../shared/gymcards-spec.md; Python twin: envs/formula.py.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gymcards.hpp"  // check_state; the VecEnv contract via vecenv.hpp

namespace vldac {
namespace formula {

// Formula tokens. Numbers are tokens, not characters: NUM(v) = v - 1 for v in 1..10, so "2","4" is
// two adjacent numbers (a syntax error), never 24. INVALID is the placeholder an illegal number
// leaves behind so that spamming illegal numbers still reaches the length limit.
enum Token : int8_t { PLUS = 10, MINUS, TIMES, DIVIDE, LPAREN, RPAREN, INVALID, NUM_TOKENS };
constexpr int MAX_TOKENS = 24;  // the games build at most 21; see the overflow note on Rational

inline bool is_number(int t) { return t >= 0 && t < 10; }
constexpr const char* kTokenText[NUM_TOKENS] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
                                                "+", "-", "*", "/", "(", ")", "?"};

// An exact rational num/den, den > 0. With at most 12 numbers of size <= 10 (MAX_TOKENS) and k
// numbers, |num| and den stay below 2^(k-1) * 10^k <= 2e15 even unreduced, so int64 cannot overflow.
struct Rational {
    int64_t num = 0, den = 1;
};

inline int64_t gcd64(int64_t a, int64_t b) {
    a = std::llabs(a), b = std::llabs(b);
    while (b) { int64_t t = a % b; a = b; b = t; }
    return a;
}

inline Rational reduce(int64_t n, int64_t d) {
    if (d < 0) n = -n, d = -d;
    const int64_t g = gcd64(n, d);
    return g > 1 ? Rational{n / g, d / g} : Rational{n, d};
}

enum Status : int { OK = 0, SYNTAX_ERROR = 1, DIV_BY_ZERO = 2 };

struct Result {
    Status status = OK;
    Rational value;  // meaningful only when status == OK
};

// Recursive descent over  expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ;
// factor := NUMBER | '(' expr ')'. No unary operators. The whole sequence is always parsed, so a
// malformed formula is SYNTAX_ERROR whatever else it contains; a well-formed one that divides by
// zero anywhere is DIV_BY_ZERO.
class Evaluator {
  public:
    Evaluator(const int8_t* tokens, int n) : t_(tokens), n_(n) {}

    Result run() {
        Result r;
        r.value = expr();
        if (bad_ || pos_ != n_) r.status = SYNTAX_ERROR;
        else if (div_zero_) r.status = DIV_BY_ZERO;
        return r;
    }

  private:
    int peek() const { return pos_ < n_ ? t_[pos_] : -1; }

    Rational expr() {
        Rational a = term();
        while (!bad_ && (peek() == PLUS || peek() == MINUS)) {
            const int64_t s = t_[pos_++] == PLUS ? 1 : -1;
            const Rational b = term();
            a = reduce(a.num * b.den + s * b.num * a.den, a.den * b.den);
        }
        return a;
    }

    Rational term() {
        Rational a = factor();
        while (!bad_ && (peek() == TIMES || peek() == DIVIDE)) {
            const bool times = t_[pos_++] == TIMES;
            const Rational b = factor();
            if (times) a = reduce(a.num * b.num, a.den * b.den);
            else if (b.num == 0) div_zero_ = true, a = Rational{};  // keep parsing: syntax errors win
            else a = reduce(a.num * b.den, a.den * b.num);
        }
        return a;
    }

    Rational factor() {
        const int t = peek();
        if (is_number(t)) return ++pos_, Rational{t + 1, 1};
        if (t == LPAREN) {
            ++pos_;
            const Rational a = expr();
            if (peek() != RPAREN) bad_ = true;
            else ++pos_;
            return a;
        }
        bad_ = true;  // empty formula, operator where a number belongs, ')' too early, INVALID
        return Rational{};
    }

    const int8_t* t_;
    int n_, pos_ = 0;
    bool bad_ = false, div_zero_ = false;
};

// Evaluates tokens[0..n) exactly. n > MAX_TOKENS or a token outside 0..NUM_TOKENS-1 is a caller bug.
inline Result evaluate(const int8_t* tokens, int n) {
    if (n < 0 || n > MAX_TOKENS) throw std::invalid_argument("formula: at most 24 tokens");
    for (int i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= NUM_TOKENS) throw std::invalid_argument("formula: unknown token");
    return Evaluator(tokens, n).run();
}

// True if the n values (each used exactly once, with + - * / and parentheses) can make `target`
// exactly: brute force over every pair combined by every operator (n <= 4).
inline bool reaches(Rational* v, int n, int64_t target) {
    if (n == 1) return v[0].num == target && v[0].den == 1;
    for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j) {
            const Rational a = v[i], b = v[j];
            Rational w[4];
            int m = 0;
            for (int k = 0; k < n; ++k)
                if (k != i && k != j) w[m++] = v[k];
            Rational c[6];
            int nc = 0;
            c[nc++] = reduce(a.num * b.den + b.num * a.den, a.den * b.den);
            c[nc++] = reduce(a.num * b.den - b.num * a.den, a.den * b.den);
            c[nc++] = reduce(b.num * a.den - a.num * b.den, a.den * b.den);
            c[nc++] = reduce(a.num * b.num, a.den * b.den);
            if (b.num != 0) c[nc++] = reduce(a.num * b.den, a.den * b.num);
            if (a.num != 0) c[nc++] = reduce(b.num * a.den, b.den * a.num);
            for (int k = 0; k < nc; ++k) {
                Rational u[4];
                for (int q = 0; q < m; ++q) u[q] = w[q];
                u[m] = c[k];
                if (reaches(u, m + 1, target)) return true;
            }
        }
    return false;
}

// Whether four card values (1..10) can make 24. The table over the 715 sorted hands is built once.
inline bool points24_solvable(const int* values) {
    static const auto table = [] {
        std::array<bool, 10000> t{};
        for (int a = 1; a <= 10; ++a)
            for (int b = a; b <= 10; ++b)
                for (int c = b; c <= 10; ++c)
                    for (int d = c; d <= 10; ++d) {
                        Rational v[4] = {{a, 1}, {b, 1}, {c, 1}, {d, 1}};
                        t[(a - 1) * 1000 + (b - 1) * 100 + (c - 1) * 10 + d - 1] = reaches(v, 4, 24);
                    }
        return t;
    }();
    int s[4] = {values[0], values[1], values[2], values[3]};
    std::sort(s, s + 4);
    return table[(s[0] - 1) * 1000 + (s[1] - 1) * 100 + (s[2] - 1) * 10 + s[3] - 1];
}

}  // namespace formula

// --- the games: a hand of cards, a formula built one token per step, "=" to submit it

struct Card {
    uint8_t rank, suit;  // rank 1..13 (value min(rank, 10)), suit 0..3
};

struct FormulaConfig {
    int image_size = 300;
    bool solvable_only = false;  // Points24 only
};

// EZPoints: make 12 from two cards with + and *. Actions: 0-9 -> numbers 1..10, 10 "+", 11 "*", 12 "=".
struct EZPointsRules {
    static constexpr const char* kName = "EZPoints";
    static constexpr int kNumCards = 2, kNumActions = 13, kTarget = 12, kMaxLength = 5;
    static constexpr int kCardWidthPer40 = 18, kGapMargins = 2;  // cards 135x189 at 300 px, 2 margins apart
    static int token(int action) { return action < 10 ? action : action == 10 ? formula::PLUS : formula::TIMES; }
    static bool producible(int token) {
        using namespace formula;
        return is_number(token) || token == PLUS || token == TIMES || token == INVALID;
    }
    static FormulaConfig configure(Options options) {
        FormulaConfig c;
        c.image_size = static_cast<int>(take_option(options, "image_size", 300, kMinImageSize, kMaxImageSize));
        no_more_options(options);
        return c;
    }
    // First card rank 2..13; the second value is 12/v (prob 1/2, when v divides 12 into a card value)
    // or 12 - v, shown as that number; then the two swap with prob 1/2. Every hand is solvable.
    static void deal(Rng& rng, const FormulaConfig&, Card* cards) {
        const int rank = static_cast<int>(rng.below(12)) + 2;
        const int suit = static_cast<int>(rng.below(4));
        const int v = std::min(rank, 10);
        int second = 12 - v;
        if (v == 2 || v == 3 || v == 4 || v == 6)
            if (rng.below(2) == 0) second = 12 / v;
        const int second_suit = static_cast<int>(rng.below(4));
        cards[0] = {static_cast<uint8_t>(rank), static_cast<uint8_t>(suit)};
        cards[1] = {static_cast<uint8_t>(second), static_cast<uint8_t>(second_suit)};
        if (rng.below(2) == 1) std::swap(cards[0], cards[1]);
    }
};

// Points24: make 24 from four cards. Actions: 0-9 -> numbers 1..10, then + - * / ( ) = at 10..16.
struct Points24Rules {
    static constexpr const char* kName = "Points24";
    static constexpr int kNumCards = 4, kNumActions = 17, kTarget = 24, kMaxLength = 20;
    static constexpr int kCardWidthPer40 = 9, kGapMargins = 1;  // cards 67x93 at 300 px, 1 margin apart
    static int token(int action) { return action; }  // the token codes follow the action order
    static bool producible(int token) { return token >= 0 && token < formula::NUM_TOKENS; }
    static FormulaConfig configure(Options options) {
        FormulaConfig c;
        c.image_size = static_cast<int>(take_option(options, "image_size", 300, kMinImageSize, kMaxImageSize));
        c.solvable_only = take_option(options, "solvable_only", 0, 0, 1) != 0;
        no_more_options(options);
        return c;
    }
    // Four independent cards, rank 1..13 then suit 0..3 each; with solvable_only, redeal all four until
    // some formula makes 24 (exact arithmetic).
    static void deal(Rng& rng, const FormulaConfig& config, Card* cards) {
        int values[kNumCards];
        do {
            for (int k = 0; k < kNumCards; ++k) {
                const int rank = static_cast<int>(rng.below(13)) + 1;
                const int suit = static_cast<int>(rng.below(4));
                cards[k] = {static_cast<uint8_t>(rank), static_cast<uint8_t>(suit)};
                values[k] = std::min(rank, 10);
            }
        } while (config.solvable_only && !formula::points24_solvable(values));
    }
};

template <class Rules>
struct FormulaGame {
    static constexpr int kNumActions = Rules::kNumActions, kNumCards = Rules::kNumCards;
    static constexpr int kEquals = kNumActions - 1;
    static constexpr int kCapacity = Rules::kMaxLength + 1;  // the formula may outgrow the limit by one
    static_assert(kCapacity <= formula::MAX_TOKENS, "formula longer than the evaluator accepts");
    using Config = FormulaConfig;
    static Config configure(Options options) { return Rules::configure(std::move(options)); }

    // Cards in a row at the top; below them "Formula:" followed by the tokens (white, text scale
    // size/100), wrapped at token boundaries; lines below the frame are clipped.
    struct Layout {
        int margin, scale, card_w, card_h, card_x[kNumCards], card_y, text_y, line_h, first_x, right;
        explicit Layout(int size) {
            margin = std::max(1, size / 50);
            scale = std::max(1, size / 100);
            card_w = size * Rules::kCardWidthPer40 / 40;
            card_h = card_w * 7 / 5;
            const int gap = Rules::kGapMargins * margin;
            const int x0 = (size - kNumCards * card_w - (kNumCards - 1) * gap) / 2;
            for (int k = 0; k < kNumCards; ++k) card_x[k] = x0 + k * (card_w + gap);
            card_y = margin;
            text_y = card_y + card_h + 2 * margin;
            line_h = kGlyphH * scale + margin;
            first_x = margin + 9 * kAdvance * scale;  // after "Formula: "
            right = size - margin;
        }
    };

    struct Art {
        Layout layout;
        Sprite background;
        CardSprites cards;
        Sprite tokens[formula::NUM_TOKENS];  // each token's text, white on felt, blitted in place of draw_text
        explicit Art(const Config& c)
            : layout(c.image_size), background(c.image_size, c.image_size, kFelt),
              cards(layout.card_w, layout.card_h) {
            draw_text(background.view(), layout.margin, layout.text_y, "Formula:", layout.scale, kWhite);
            for (int t = 0; t < formula::NUM_TOKENS; ++t) {
                const char* s = formula::kTokenText[t];
                tokens[t] = Sprite(text_width(s, layout.scale), kGlyphH * layout.scale, kFelt);
                draw_text(tokens[t].view(), 0, 0, s, layout.scale, kWhite);
            }
        }
    };

    Config config;
    Card cards[kNumCards] = {};
    int8_t tokens[kCapacity] = {};
    int length = 0;

    explicit FormulaGame(const Config& c) : config(c) {}

    void reset(Rng& rng) {
        Rules::deal(rng, config, cards);
        length = 0;
    }

    // How often number token t appears in the hand, and in the formula.
    int in_hand(int t) const {
        int n = 0;
        for (const Card& c : cards) n += std::min<int>(c.rank, 10) == t + 1;
        return n;
    }
    int in_formula(int t) const {
        int n = 0;
        for (int i = 0; i < length; ++i) n += tokens[i] == t;
        return n;
    }

    // Numbers are only ever appended while the hand has them left, so "every card used exactly once" is
    // "as many numbers as cards".
    bool solved() const {
        int numbers = 0;
        for (int i = 0; i < length; ++i) numbers += formula::is_number(tokens[i]);
        if (numbers != kNumCards) return false;
        const formula::Result r = formula::evaluate(tokens, length);
        return r.status == formula::OK && r.value.num == Rules::kTarget && r.value.den == 1;
    }

    StepResult step(int action, Rng&) {
        StepResult r;
        if (length > Rules::kMaxLength) {  // a rule of the game, not a time limit: a real ending
            r.reward = -1.0f;
            r.terminated = true;
        } else if (action == kEquals) {
            r.reward = solved() ? 10.0f : -1.0f;
            r.terminated = true;
        } else {
            int t = Rules::token(action);
            if (formula::is_number(t) && in_formula(t) >= in_hand(t)) {
                t = formula::INVALID;  // illegal number: penalised, and still grows the formula
                r.reward = -1.0f;
            }
            tokens[length++] = static_cast<int8_t>(t);
        }
        return r;
    }

    void draw(const Art& art, Image frame) const {
        const Layout& l = art.layout;
        // the background, with the card rows written over each band row while it is still in cache (the
        // layout keeps every card inside the frame)
        const size_t row = static_cast<size_t>(frame.w) * 3, band = static_cast<size_t>(l.card_y) * row;
        const size_t below = static_cast<size_t>(l.card_y + l.card_h) * row;
        const uint8_t* bg = art.background.px.data();
        const Sprite* faces[kNumCards];
        for (int k = 0; k < kNumCards; ++k) faces[k] = &art.cards.face(cards[k].rank, cards[k].suit);
        std::memcpy(frame.px, bg, band);
        for (int y = 0; y < l.card_h; ++y) {
            uint8_t* dst = frame.px + band + y * row;
            std::memcpy(dst, bg + band + y * row, row);
            const size_t offset = static_cast<size_t>(y) * l.card_w * 3;
            for (int k = 0; k < kNumCards; ++k)
                std::memcpy(dst + l.card_x[k] * 3, faces[k]->px.data() + offset, static_cast<size_t>(l.card_w) * 3);
        }
        std::memcpy(frame.px + below, bg + below, static_cast<size_t>(frame.h) * row - below);
        // the tokens after "Formula: ", wrapped at token boundaries; their boxes only ever cover plain felt
        int x = l.first_x, y = l.text_y;
        for (int i = 0; i < length; ++i) {
            const Sprite& text = art.tokens[tokens[i]];
            if (x + text.w > l.right && x > l.margin) x = l.margin, y += l.line_h;
            blit(frame, x, y, text);
            x += text.w + l.scale + kAdvance * l.scale;  // the glyphs' advance, then one space
        }
    }

    std::string text() const {
        std::string s;
        for (int i = 0; i < length; ++i) (s += i ? " " : "") += formula::kTokenText[tokens[i]];
        return s;
    }

    // [rank, suit] per card, then the formula length and its tokens.
    std::vector<int64_t> state() const {
        std::vector<int64_t> s;
        for (const Card& c : cards) s.push_back(c.rank), s.push_back(c.suit);
        s.push_back(length);
        for (int i = 0; i < length; ++i) s.push_back(tokens[i]);
        return s;
    }
    void set_state(const std::vector<int64_t>& s) {
        const char* name = Rules::kName;
        check_state(s.size() >= 2 * kNumCards + 1, name, "state too short");
        FormulaGame g(config);
        for (int k = 0; k < kNumCards; ++k) {
            check_state(s[2 * k] >= 1 && s[2 * k] <= 13 && s[2 * k + 1] >= 0 && s[2 * k + 1] <= 3, name,
                        "ranks must be 1..13 and suits 0..3");
            g.cards[k] = {static_cast<uint8_t>(s[2 * k]), static_cast<uint8_t>(s[2 * k + 1])};
        }
        const int64_t n = s[2 * kNumCards];
        check_state(n >= 0 && n <= kCapacity && s.size() == static_cast<size_t>(2 * kNumCards + 1 + n), name,
                    "the formula length must match the tokens and be at most the limit + 1");
        for (int64_t i = 0; i < n; ++i) {
            const int64_t t = s[2 * kNumCards + 1 + i];
            check_state(t >= 0 && t < formula::NUM_TOKENS && Rules::producible(static_cast<int>(t)), name,
                        "a token this game cannot produce");
            g.tokens[g.length++] = static_cast<int8_t>(t);
            const int token = static_cast<int>(t);
            check_state(!formula::is_number(token) || g.in_formula(token) <= g.in_hand(token), name,
                        "the formula uses a number more often than the hand holds it");
        }
        *this = g;
    }
};

using EZPoints = FormulaGame<EZPointsRules>;
using Points24 = FormulaGame<Points24Rules>;

}  // namespace vldac
