// What is here: the pipeline's portable randomness: seed mixing and a Fisher-Yates
// permutation that gives the same order on every machine and standard library.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace qforge::train {

// A well-spread 64-bit seed for stream `stream` of `seed` (splitmix64 of both), so that the
// validation split, the packing order and each epoch's order draw independent numbers.
uint64_t data_mix_seed(uint64_t seed, uint64_t stream);

// Uniform in [0, n) by rejection (std::uniform_int_distribution is implementation-defined).
uint64_t data_uniform_below(std::mt19937_64& rng, uint64_t n);

// A permutation of 0..n-1: Fisher-Yates driven by std::mt19937_64(seed), whose output the
// C++ standard fixes bit for bit (std::shuffle's algorithm it does not).
std::vector<int64_t> data_permutation(int64_t n, uint64_t seed);

}  // namespace qforge::train
