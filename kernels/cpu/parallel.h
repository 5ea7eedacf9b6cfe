// What is here: when the CPU reference ops use OpenMP threads. Below kParallelMinWork elements of
// work a loop runs on one thread: starting a team costs more than tiny ops take, and the
// finite-difference tests call tiny ops thousands of times.
#pragma once

#include <cstdint>

namespace qforge::kernels::cpu {

inline constexpr int64_t kParallelMinWork = int64_t{1} << 15;

}  // namespace qforge::kernels::cpu
