// What is here: runtime/train/data_shuffle.h.
#include "runtime/train/data_shuffle.h"

#include <numeric>
#include <utility>

#include "kernels/common.h"

namespace qforge::train {
namespace {

uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

}  // namespace

uint64_t data_mix_seed(uint64_t seed, uint64_t stream) {
    return splitmix64(splitmix64(seed) ^ splitmix64(stream + 0x5851F42D4C957F2Dull));
}

uint64_t data_uniform_below(std::mt19937_64& rng, uint64_t n) {
    QF_CHECK(n > 0, "data_uniform_below needs n > 0");
    // Reject the top partial bucket so every residue is equally likely.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = rng();
    while (x >= limit) {
        x = rng();
    }
    return x % n;
}

std::vector<int64_t> data_permutation(int64_t n, uint64_t seed) {
    QF_CHECK(n >= 0, "data_permutation needs n >= 0, got {}", n);
    std::vector<int64_t> perm(static_cast<size_t>(n));
    std::iota(perm.begin(), perm.end(), int64_t{0});
    std::mt19937_64 rng(seed);
    for (int64_t i = n - 1; i > 0; --i) {
        const auto j = static_cast<int64_t>(data_uniform_below(rng, static_cast<uint64_t>(i) + 1));
        std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
    }
    return perm;
}

}  // namespace qforge::train
