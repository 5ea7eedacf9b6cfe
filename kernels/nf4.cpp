// What is here: the public entry points of kernels/nf4.h (argument checks, then the backend).
#include "kernels/nf4.h"

#include <algorithm>
#include <cmath>

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

const float* nf4_code_table() {
    return cpu::nf4_code_table();
}

const float* dynamic_map_signed() {
    return cpu::dynamic_map_signed();
}

uint8_t nf4_nearest_code(float x) {
    return cpu::nf4_nearest_code(x);
}

uint8_t dynamic_nearest_code(float x) {
    return cpu::dynamic_nearest_code(dynamic_map_signed(), x);
}

Nf4Sizes nf4_storage_sizes(int64_t numel) {
    check_size("nf4_storage_sizes", "numel", numel, 0);
    const int64_t blocks = (numel + kNf4BlockSize - 1) / kNf4BlockSize;
    return Nf4Sizes{
        .packed_bytes = (numel + 1) / 2,
        .blocks = blocks,
        .nested_blocks = (blocks + kNf4NestedBlockSize - 1) / kNf4NestedBlockSize,
    };
}

void nf4_quantize(const float* w, int64_t numel, uint8_t* packed, uint8_t* absmax_q,
                  float* nested_absmax, float* offset) {
    constexpr std::string_view op = "nf4_quantize";
    check_size(op, "numel", numel, 1);
    check_ptr(op, "w", w);
    check_ptr(op, "packed", packed);
    check_ptr(op, "absmax_q", absmax_q);
    check_ptr(op, "nested_absmax", nested_absmax);
    check_ptr(op, "offset", offset);
    for (int64_t i = 0; i < numel; i++) {
        QF_CHECK(std::isfinite(w[i]), "{}: expected finite weights, got w[{}] = {}", op, i, w[i]);
    }
    cpu::nf4_quantize(w, numel, packed, absmax_q, nested_absmax, offset);
}

void nf4_quantize_device(const Ctx& ctx, const float* w, int64_t numel, uint8_t* packed,
                         uint8_t* absmax_q, float* nested_absmax, float* offset_out_device) {
    constexpr std::string_view op = "nf4_quantize_device";
    check_size(op, "numel", numel, 1);
    check_ptr(op, "w", w);
    check_ptr(op, "packed", packed);
    check_ptr(op, "absmax_q", absmax_q);
    check_ptr(op, "nested_absmax", nested_absmax);
    check_ptr(op, "offset_out_device", offset_out_device);
    switch (ctx.device) {
        case Device::kCpu:
            return nf4_quantize(w, numel, packed, absmax_q, nested_absmax, offset_out_device);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::nf4_quantize(ctx.stream, w, numel, packed, absmax_q, nested_absmax,
                                      offset_out_device, dynamic_map_signed());
#else
            break;
#endif
    }
    throw_unsupported(Op::kNf4QuantizeDevice, ctx.device);
}

namespace {
// The storage pointers of an NF4 view (needed when there is work) and its offset.
void check_view(std::string_view op, const Nf4View& w, bool work) {
    check_ptr(op, "packed", w.packed, work);
    check_ptr(op, "absmax_q", w.absmax_q, work);
    check_ptr(op, "nested_absmax", w.nested_absmax, work);
    check_ptr(op, "nested_code", w.nested_code, work);
    check_ptr(op, "code", w.code, work);
    QF_CHECK(std::isfinite(w.offset), "{}: expected a finite offset, got {}", op, w.offset);
}
}  // namespace

void nf4_dequantize(const Ctx& ctx, float* out, const Nf4View& w) {
    constexpr std::string_view op = "nf4_dequantize";
    check_size(op, "numel", w.numel, 0);
    const bool work = w.numel > 0;
    check_ptr(op, "out", out, work);
    check_view(op, w, work);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::nf4_dequantize(out, w);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::nf4_dequantize(ctx.stream, out, w.packed, w.absmax_q, w.nested_absmax,
                                        w.nested_code, w.code, w.offset, w.numel);
#else
            break;
#endif
    }
    throw_unsupported(Op::kNf4Dequantize, ctx.device);
}

void nf4_dequantize_bf16(const Ctx& ctx, uint16_t* out, int64_t ld_out, const Nf4View& w,
                         int64_t rows, int64_t cols) {
    constexpr std::string_view op = "nf4_dequantize_bf16";
    check_size(op, "numel", w.numel, 0);
    check_size(op, "rows", rows, 0);
    check_size(op, "cols", cols, 0);
    QF_CHECK(rows * cols == w.numel, "{}: expected rows * cols == numel, got {} * {} != {}", op,
             rows, cols, w.numel);
    check_size(op, "ld_out (>= cols)", ld_out, std::max<int64_t>(1, cols));
    const bool work = w.numel > 0;
    check_ptr(op, "out", out, work);
    check_view(op, w, work);
    switch (ctx.device) {
        case Device::kCpu:
            if (!work) {
                return;
            }
            return cpu::nf4_dequantize_bf16(out, ld_out, w, cols);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            return cuda::nf4_dequantize_bf16(ctx.stream, out, ld_out, w.packed, w.absmax_q,
                                             w.nested_absmax, w.nested_code, w.code, w.offset, rows,
                                             cols);
#else
            break;
#endif
    }
    throw_unsupported(Op::kNf4DequantizeBf16, ctx.device);
}

}  // namespace qforge::kernels
