// What is here: the dispatchers of kernels/bf16.h (argument checks, then the backend).
#include "kernels/bf16.h"

#include <algorithm>
#include <vector>

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

namespace {
// The checks both conversions share: sizes, strides (>= cols) and pointers; true when there is
// work (rows and cols both > 0).
bool check_strided_copy(std::string_view op, const void* out, int64_t ld_out, const void* in,
                        int64_t ld_in, int64_t rows, int64_t cols) {
    check_size(op, "rows", rows, 0);
    check_size(op, "cols", cols, 0);
    check_size(op, "ld_in (>= cols)", ld_in, std::max<int64_t>(1, cols));
    check_size(op, "ld_out (>= cols)", ld_out, std::max<int64_t>(1, cols));
    const bool work = rows > 0 && cols > 0;
    check_ptr(op, "out", out, work);
    check_ptr(op, "in", in, work);
    return work;
}
}  // namespace

void convert_to_bf16(const Ctx& ctx, uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in,
                     int64_t rows, int64_t cols, float scale) {
    constexpr std::string_view op = "convert_to_bf16";
    [[maybe_unused]] const bool work = check_strided_copy(op, out, ld_out, in, ld_in, rows, cols);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::convert_to_bf16(out, ld_out, in, ld_in, rows, cols, scale);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            return cuda::convert_to_bf16(ctx.stream, out, ld_out, in, ld_in, rows, cols, scale);
#else
            break;
#endif
    }
    throw_unsupported(Op::kConvertToBf16, ctx.device);
}

void convert_to_bf16_batch(const Ctx& ctx, std::span<const Bf16Conversion> conversions) {
    constexpr std::string_view op = "convert_to_bf16_batch";
    std::vector<Bf16Conversion> work;  // the conversions with values to convert
    for (const Bf16Conversion& c : conversions) {
        if (check_strided_copy(op, c.out, c.ld_out, c.in, c.ld_in, c.rows, c.cols)) {
            work.push_back(c);
        }
    }
    switch (ctx.device) {
        case Device::kCpu:
            for (const Bf16Conversion& c : work) {
                cpu::convert_to_bf16(c.out, c.ld_out, c.in, c.ld_in, c.rows, c.cols, c.scale);
            }
            return;
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            for (std::size_t i = 0; i < work.size(); i += kBf16BatchLaunch) {
                const std::size_t n = std::min<std::size_t>(kBf16BatchLaunch, work.size() - i);
                cuda::convert_to_bf16_batch(ctx.stream, work.data() + i, static_cast<int>(n));
            }
            return;
#else
            break;
#endif
    }
    throw_unsupported(Op::kConvertToBf16Batch, ctx.device);
}

void convert_from_bf16(const Ctx& ctx, float* out, int64_t ld_out, const uint16_t* in,
                       int64_t ld_in, int64_t rows, int64_t cols) {
    constexpr std::string_view op = "convert_from_bf16";
    [[maybe_unused]] const bool work = check_strided_copy(op, out, ld_out, in, ld_in, rows, cols);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::convert_from_bf16(out, ld_out, in, ld_in, rows, cols);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            return cuda::convert_from_bf16(ctx.stream, out, ld_out, in, ld_in, rows, cols);
#else
            break;
#endif
    }
    throw_unsupported(Op::kConvertFromBf16, ctx.device);
}

}  // namespace qforge::kernels
