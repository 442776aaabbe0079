// Bindings of the Gym-Cards batches (NumberLine, Blackjack) and of the renderer/RNG test hooks.
#include "gymcards.hpp"

namespace py = pybind11;
using namespace vldac;

static py::array_t<uint8_t> sprite_array(const Sprite& s) {
    py::array_t<uint8_t> out({py::ssize_t(s.h), py::ssize_t(s.w), py::ssize_t(3)});
    std::memcpy(out.mutable_data(), s.px.data(), s.px.size());
    return out;
}

static void check_card_size(int w, int h) {
    if (w < 4 || h < 4 || w > 1024 || h > 1024) throw std::invalid_argument("card size must be in 4..1024");
}

void bind_gymcards(py::module_& m) {
    bind_vecenv<NumberLine>(m, "NumberLine", "Batch of Gym-Cards NumberLine envs (actions: 0 '-', 1 '+').");
    bind_vecenv<Blackjack>(m, "Blackjack", "Batch of Gym-Cards Blackjack envs (actions: 0 stand, 1 hit).");

    m.def(
        "render_tables",
        [] {
            py::array_t<uint16_t> font({95, 9}), suits({4, 9});
            std::memcpy(font.mutable_data(), kFont, sizeof(kFont));
            std::memcpy(suits.mutable_data(), kSuits, sizeof(kSuits));
            return py::make_tuple(font, suits);
        },
        "(font (95, 9), suits (4, 9)) row bitmasks compiled into the renderer, for the parity tests.");
    m.def(
        "card_sprite",
        [](int w, int h, int rank, int suit) {
            check_card_size(w, h);
            if (rank < 1 || rank > 13 || suit < 0 || suit > 3) throw std::invalid_argument("rank 1..13, suit 0..3");
            return sprite_array(card_sprite(w, h, rank, suit));
        },
        py::arg("w"), py::arg("h"), py::arg("rank"), py::arg("suit"), "A face-up card on felt, (h, w, 3) uint8.");
    m.def(
        "card_back", [](int w, int h) { check_card_size(w, h); return sprite_array(card_back(w, h)); }, py::arg("w"),
        py::arg("h"), "A card back on felt, (h, w, 3) uint8.");
    m.def(
        "text_image",
        [](int w, int h, const std::string& text, int scale, bool rot180) {
            check_card_size(w, h);
            if (scale < 1 || scale > 64) throw std::invalid_argument("scale must be in 1..64");
            Sprite s(w, h, kWhite);
            draw_text(s.view(), 1, 1, text, scale, kBlack, rot180);
            return sprite_array(s);
        },
        py::arg("w"), py::arg("h"), py::arg("text"), py::arg("scale"), py::arg("rot180") = false,
        "`text` drawn black at (1, 1) on a white (h, w, 3) image.");
    m.def(
        "rng_below",
        [](uint64_t seed, uint64_t n, int64_t count) {
            if (n < 1 || count < 0) throw std::invalid_argument("need n >= 1 and count >= 0");
            Rng rng(seed);
            std::vector<uint64_t> out(count);
            for (auto& v : out) v = rng.below(n);
            return out;
        },
        py::arg("seed"), py::arg("n"), py::arg("count"), "`count` draws of Rng(seed).below(n).");
}
