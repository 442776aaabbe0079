// Formula games of Gym-Cards (EZPoints: make 12 from two cards; Points24: make 24 from four) and the
// exact rational evaluator they share. Spec: ../shared/gymcards-spec.md; Python twin: envs/formula.py.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace vldac {
namespace formula {

// Formula tokens. Numbers are tokens, not characters: NUM(v) = v - 1 for v in 1..10, so "2","4" is
// two adjacent numbers (a syntax error), never 24. INVALID is the placeholder an illegal number
// leaves behind so that spamming illegal numbers still reaches the length limit.
enum Token : int8_t { PLUS = 10, MINUS, TIMES, DIVIDE, LPAREN, RPAREN, INVALID, NUM_TOKENS };
constexpr int MAX_TOKENS = 24;  // the games build at most 21; see the overflow note on Rational

inline bool is_number(int t) { return t >= 0 && t < 10; }

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

}  // namespace formula
}  // namespace vldac
