// What is here: the dispatcher of kernels/random.h (argument checks, then the backend).
#include "kernels/random.h"

#include <cmath>

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void random_normal(const Ctx& ctx, float* out, int64_t n, float stddev, uint64_t seed,
                   uint64_t key) {
    constexpr std::string_view op = "random_normal";
    check_size(op, "n", n, 0);
    check_ptr(op, "out", out, n > 0);
    QF_CHECK(std::isfinite(stddev) && stddev >= 0.0f, "{}: expected a finite stddev >= 0, got {}",
             op, stddev);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::random_normal(out, n, stddev, seed, key);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::random_normal(ctx.stream, out, n, stddev, seed, key);
#else
            break;
#endif
    }
    throw_unsupported(Op::kRandomNormal, ctx.device);
}

}  // namespace qforge::kernels
