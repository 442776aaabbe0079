// Small portable RNG: xoshiro256** seeded through splitmix64. envs/rng.py is the bit-exact Python twin.
#pragma once
#include <array>
#include <cstdint>

namespace vldac {

class Rng {
  public:
    explicit Rng(uint64_t seed = 0) { reseed(seed); }

    // Expands one 64-bit seed into the four state words with splitmix64 (never all zero in practice).
    void reseed(uint64_t seed) {
        for (uint64_t& w : s_) {
            seed += 0x9E3779B97F4A7C15ULL;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            w = z ^ (z >> 31);
        }
    }

    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform integer in [0, n), n >= 1, unbiased: draws below 2^64 mod n are rejected.
    uint64_t below(uint64_t n) {
        const uint64_t threshold = (0 - n) % n;
        for (;;) {
            const uint64_t r = next();
            if (r >= threshold) return r % n;
        }
    }

    // The four state words, for exact snapshots (checkpoint/resume). set_words takes them as they are: the
    // caller rejects four zeros, the one state xoshiro256** never leaves.
    std::array<uint64_t, 4> words() const { return {s_[0], s_[1], s_[2], s_[3]}; }
    void set_words(const std::array<uint64_t, 4>& w) {
        for (int k = 0; k < 4; ++k) s_[k] = w[k];
    }

  private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

}  // namespace vldac
