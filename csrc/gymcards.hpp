// Gym-Cards tasks NumberLine and Blackjack (rules: ../shared/gymcards-spec.md; Python twins: envs/gymcards.py).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "render.hpp"
#include "rng.hpp"
#include "vecenv.hpp"

namespace vldac {

inline void copy_background(const Sprite& background, Image frame) {
    std::memcpy(frame.px, background.px.data(), background.px.size());
}

inline void check_state(bool ok, const char* task, const char* what) {
    if (!ok) throw std::invalid_argument(std::string(task) + ".set_state: " + what);
}

// The cards tasks' only option: the (square) image size.
struct ImageSizeConfig {
    int image_size = 300;
};
inline ImageSizeConfig configure_image_size(Options options) {
    ImageSizeConfig c;
    c.image_size = static_cast<int>(take_option(options, "image_size", 300, kMinImageSize, kMaxImageSize));
    no_more_options(options);
    return c;
}

// --- NumberLine: move "Current" to "Target" on 0..5 with "-" / "+".

struct NumberLine {
    static constexpr int kNumActions = 2, kMaxPosition = 5, kMaxSteps = 2 * kMaxPosition;

    using Config = ImageSizeConfig;
    static Config configure(Options options) { return configure_image_size(std::move(options)); }

    // Two rows (halves): a small label at the top left and the digit as large as the row allows, right-aligned.
    // Big glyphs matter: at 84x84 a small VLM reads a 25x35 px digit easily and a 10x14 px one barely.
    struct Layout {
        int margin, label_scale, digit_scale, label_y[2], digit_x, digit_y[2];
        explicit Layout(int size) {
            const int half = size / 2;
            margin = label_scale = std::max(1, size / 84);
            digit_scale = std::max(1, fdiv(half - 2 * margin, kCapH));
            digit_x = size - margin - kGlyphW * digit_scale;
            for (int row = 0; row < 2; ++row) {
                label_y[row] = row * half + margin;
                digit_y[row] = row * half + (half - kCapH * digit_scale) / 2;
            }
        }
    };

    struct Art {
        Layout layout;
        Sprite background;
        explicit Art(const Config& c) : layout(c.image_size), background(c.image_size, c.image_size, kWhite) {
            draw_text(background.view(), layout.margin, layout.label_y[0], "Target:", layout.label_scale, kBlack);
            draw_text(background.view(), layout.margin, layout.label_y[1], "Current:", layout.label_scale, kBlack);
        }
    };

    int position = 0, goal = 1, steps = 0;

    explicit NumberLine(const Config&) {}

    void reset(Rng& rng) {
        position = static_cast<int>(rng.below(kMaxPosition + 1));
        do goal = static_cast<int>(rng.below(kMaxPosition + 1));
        while (goal == position);  // redraw (the original bumped goal to (goal + 1) mod 5: skewed)
        steps = 0;
    }

    StepResult step(int action, Rng&) {
        const int before = std::abs(position - goal);
        position = action == 0 ? std::max(0, position - 1) : std::min(kMaxPosition, position + 1);
        ++steps;
        StepResult r;
        if (position == goal) {
            r.reward = 1.0f;
            r.terminated = true;
        } else {
            r.reward = std::abs(position - goal) < before ? 0.0f : -1.0f;
            r.truncated = steps >= kMaxSteps;
        }
        return r;
    }

    void draw(const Art& art, Image frame) const {
        copy_background(art.background, frame);
        const Layout& l = art.layout;
        draw_text(frame, l.digit_x, l.digit_y[0], std::to_string(goal), l.digit_scale, kBlack);
        draw_text(frame, l.digit_x, l.digit_y[1], std::to_string(position), l.digit_scale, kBlack);
    }

    std::string text() const { return {}; }
    std::vector<int64_t> state() const { return {position, goal, steps}; }
    void set_state(const std::vector<int64_t>& s) {
        check_state(s.size() == 3, "NumberLine", "expected [position, goal, steps]");
        check_state(s[0] >= 0 && s[0] <= kMaxPosition && s[1] >= 0 && s[1] <= kMaxPosition && s[0] != s[1],
                    "NumberLine", "position and goal must be distinct values in 0..5");
        check_state(s[2] >= 0 && s[2] < kMaxSteps, "NumberLine", "steps must be in 0..9");
        position = static_cast<int>(s[0]), goal = static_cast<int>(s[1]), steps = static_cast<int>(s[2]);
    }
};

// --- Blackjack: gymnasium's rules (infinite deck, dealer hits below 17, natural=False, sab=False), drawn
// as cards. Each card draws a rank 1..13 (value min(rank, 10)) and then a suit 0..3 for display.

struct Blackjack {
    static constexpr int kNumActions = 2, kMaxCards = 24;  // a hand never exceeds 22 cards

    using Config = ImageSizeConfig;
    static Config configure(Options options) { return configure_image_size(std::move(options)); }

    struct Hand {
        int n = 0;
        uint8_t rank[kMaxCards] = {}, suit[kMaxCards] = {};
        void deal(Rng& rng) {
            rank[n] = static_cast<uint8_t>(rng.below(13) + 1);
            suit[n] = static_cast<uint8_t>(rng.below(4));
            ++n;
        }
        int sum() const {
            int total = 0;
            for (int k = 0; k < n; ++k) total += std::min<int>(rank[k], 10);
            return total;
        }
        bool usable_ace() const {
            bool ace = false;
            for (int k = 0; k < n; ++k) ace |= rank[k] == 1;
            return ace && sum() + 10 <= 21;
        }
        int total() const { return sum() + (usable_ace() ? 10 : 0); }
        int score() const { return total() > 21 ? 0 : total(); }
    };

    // "Dealer" label, dealer row (face-up card, card back), "Player" label, player rows of 5 cards.
    struct Layout {
        int margin, label_scale, card_w, card_h, dealer_label_y, dealer_y, player_label_y, player_y;
        explicit Layout(int size) {
            margin = std::max(1, size / 50);
            label_scale = std::max(1, size / 100);
            card_w = (size - 6 * margin) / 5;
            card_h = card_w * 4 / 3;
            dealer_label_y = margin;
            dealer_y = dealer_label_y + kGlyphH * label_scale + margin;
            player_label_y = dealer_y + card_h + margin;
            player_y = player_label_y + kGlyphH * label_scale + margin;
        }
        int slot_x(int k) const { return margin + (k % 5) * (card_w + margin); }
        int player_slot_y(int k) const { return player_y + (k / 5) * (card_h + margin); }
    };

    struct Art {
        Layout layout;
        Sprite background;
        CardSprites cards;
        explicit Art(const Config& c)
            : layout(c.image_size), background(c.image_size, c.image_size, kFelt), cards(layout.card_w, layout.card_h) {
            draw_text(background.view(), layout.margin, layout.dealer_label_y, "Dealer", layout.label_scale, kWhite);
            draw_text(background.view(), layout.margin, layout.player_label_y, "Player", layout.label_scale, kWhite);
        }
    };

    Hand dealer, player;  // dealer.rank[1] is the hidden card: never drawn, never in text or state shown

    explicit Blackjack(const Config&) {}

    void reset(Rng& rng) {
        dealer.n = player.n = 0;
        dealer.deal(rng), dealer.deal(rng);
        player.deal(rng), player.deal(rng);
    }

    StepResult step(int action, Rng& rng) {
        StepResult r;
        r.terminated = true;
        if (action == 1) {  // hit
            player.deal(rng);
            if (player.total() > 21) r.reward = -1.0f;
            else r.terminated = false;
        } else {  // stand
            while (dealer.total() < 17) dealer.deal(rng);
            const int p = player.score(), d = dealer.score();
            r.reward = static_cast<float>((p > d) - (p < d));
        }
        return r;
    }

    void draw(const Art& art, Image frame) const {
        copy_background(art.background, frame);
        const Layout& l = art.layout;
        blit(frame, l.slot_x(0), l.dealer_y, art.cards.face(dealer.rank[0], dealer.suit[0]));
        blit(frame, l.slot_x(1), l.dealer_y, art.cards.back);
        for (int k = 0; k < player.n; ++k)  // rows beyond the frame are clipped (only in 10+ card hands)
            blit(frame, l.slot_x(k), l.player_slot_y(k), art.cards.face(player.rank[k], player.suit[k]));
    }

    std::string text() const { return {}; }

    // [dealer cards n, rank, suit, ..., player cards n, rank, suit, ...]
    std::vector<int64_t> state() const {
        std::vector<int64_t> s;
        for (const Hand* h : {&dealer, &player}) {
            s.push_back(h->n);
            for (int k = 0; k < h->n; ++k) s.push_back(h->rank[k]), s.push_back(h->suit[k]);
        }
        return s;
    }
    void set_state(const std::vector<int64_t>& s) {
        Hand hands[2];
        size_t at = 0;
        for (Hand& h : hands) {
            check_state(at < s.size(), "Blackjack", "state too short");
            const int64_t n = s[at++];
            check_state(n >= 2 && n <= kMaxCards - 2 && at + 2 * n <= s.size(), "Blackjack", "bad card count");
            for (int64_t k = 0; k < n; ++k, at += 2) {
                check_state(s[at] >= 1 && s[at] <= 13 && s[at + 1] >= 0 && s[at + 1] <= 3, "Blackjack",
                            "ranks must be 1..13 and suits 0..3");
                h.rank[k] = static_cast<uint8_t>(s[at]), h.suit[k] = static_cast<uint8_t>(s[at + 1]);
            }
            h.n = static_cast<int>(n);
        }
        check_state(at == s.size(), "Blackjack", "state too long");
        check_state(hands[0].n == 2, "Blackjack", "the dealer holds exactly 2 cards during play");
        check_state(hands[1].total() <= 21, "Blackjack", "the player's hand is bust");
        dealer = hands[0], player = hands[1];
    }
};

}  // namespace vldac
