// What is here: kernels/cuda/check.h.
#include "kernels/cuda/check.h"

#include "kernels/common.h"

namespace qforge::kernels::cuda {

void fail(const char* file, int line, const char* what, const char* detail) {
    throw_error(file, line, fmt::format("{} failed: {}", what, detail));
}

}  // namespace qforge::kernels::cuda
