// What is here: the argument checks every op dispatcher shares (sizes, required pointers), so
// each bad call fails with one qforge::Error naming the op and the argument.
#pragma once

#include <cstdint>
#include <string_view>

#include "kernels/common.h"

namespace qforge::kernels {

inline void check_size(std::string_view op, std::string_view arg, int64_t value, int64_t min) {
    QF_CHECK(value >= min, "{}: expected {} >= {}, got {}", op, arg, min, value);
}

// `needed` is false when the call has no work (an empty batch may pass null pointers).
inline void check_ptr(std::string_view op, std::string_view arg, const void* ptr,
                      bool needed = true) {
    QF_CHECK(ptr != nullptr || !needed, "{}: {} must not be null", op, arg);
}

}  // namespace qforge::kernels
