"""The portable RNG of csrc/rng.hpp in pure Python: xoshiro256** seeded through splitmix64.

C++ and Python draw the same numbers for the same seed, which is what makes the lock-step parity tests
possible. Seeds are taken modulo 2**64 (env i of a batch is seeded with seed + i).
"""

MASK = (1 << 64) - 1


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & MASK


class Rng:
    __slots__ = ("s",)

    def __init__(self, seed: int = 0):
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        x, self.s = seed & MASK, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(z ^ (z >> 31))

    def next(self) -> int:
        s = self.s
        result = (_rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def get_words(self) -> list[int]:
        """The four state words (csrc/rng.hpp's words()), for exact snapshots."""
        return list(self.s)

    def set_words(self, words) -> None:
        """Sets the four state words as given (the caller checks them: ints in [0, 2**64), not all zero)."""
        self.s = [int(w) for w in words]

    def below(self, n: int) -> int:
        """Uniform integer in [0, n), unbiased (draws below 2**64 mod n are rejected)."""
        threshold = (1 << 64) % n
        while True:
            r = self.next()
            if r >= threshold:
                return r % n
