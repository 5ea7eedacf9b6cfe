// What is here: the counter-based hashes behind dropout's mask and random_normal, written once
// for both backends (host and device: no fmt, no CUDA headers). Each value is a pure function of
// (seed, key, i), so any backend, thread layout or resumed run gets the same bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace qforge::kernels::hash {

// splitmix64 finaliser (Steele, Lea, Flood 2014): a cheap, well-mixed 64-bit hash.
QF_HOST_DEVICE inline uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The 64-bit hash of element i of call (seed, key).
QF_HOST_DEVICE inline uint64_t counter(uint64_t seed, uint64_t key, int64_t i) {
    return mix(mix(seed ^ mix(key)) ^ static_cast<uint64_t>(i));
}

// The top 53 bits of h as a double uniform in [0, 1).
QF_HOST_DEVICE inline double uniform01(uint64_t h) {
    return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// dropout_keep (kernels/dropout.h): keep element i when its uniform is >= p.
QF_HOST_DEVICE inline bool dropout_keep(uint64_t seed, uint64_t key, int64_t i, float p) {
    return uniform01(counter(seed, key, i)) >= static_cast<double>(p);
}

// random_normal's element i (kernels/random.h): Box-Muller in double on two uniforms drawn from
// the counter hash, u1 in (0, 1] (so log(u1) is finite) and u2 in [0, 1); rounded to float once.
QF_HOST_DEVICE inline float normal_value(uint64_t seed, uint64_t key, int64_t i, float stddev) {
    const uint64_t h1 = counter(seed, key, i);
    const uint64_t h2 = mix(h1 ^ 0xD1B54A32D192ED03ull);
    const double u1 = static_cast<double>((h1 >> 11) + 1) * 0x1.0p-53;
    const double u2 = uniform01(h2);
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    const double z = sqrt(-2.0 * log(u1)) * cos(kTwoPi * u2);
    return static_cast<float>(z * static_cast<double>(stddev));
}

}  // namespace qforge::kernels::hash
