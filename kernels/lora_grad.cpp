// What is here: the dispatcher of kernels/lora_grad.h (argument checks, then the backend).
#include "kernels/lora_grad.h"

#include <cstdint>

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/dense.h"
#endif

namespace qforge::kernels {

namespace {

bool aligned16(const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

bool rank_taken(int64_t R) {
    return R == 8 || R == 16 || R == 32 || R == 64;
}

}  // namespace

bool lora_dy_products_fits(const uint16_t* dy, int64_t ld_dy, const uint16_t* sb, int64_t ld_sb,
                           const float* u, int64_t ld_u, int64_t Out, int64_t R, const float* du,
                           const uint16_t* du_bf16, int64_t ld_du, const float* dB) {
    return rank_taken(R) && Out % 8 == 0 && ld_dy % 8 == 0 && ld_sb % 8 == 0 && ld_du % 8 == 0 &&
           ld_u % 4 == 0 && ld_u >= R && aligned16(dy) && aligned16(sb) && aligned16(u) &&
           aligned16(du) && aligned16(du_bf16) && aligned16(dB);
}

void lora_dy_products(const Ctx& ctx, const uint16_t* dy, int64_t ld_dy, const uint16_t* sb,
                      int64_t ld_sb, const float* u, int64_t ld_u, int64_t N, int64_t Out,
                      int64_t R, float scale, float* du, uint16_t* du_bf16, int64_t ld_du,
                      float* dB) {
    constexpr std::string_view op = "lora_dy_products";
    check_size(op, "N", N, 0);
    check_size(op, "Out", Out, 1);
    QF_CHECK(rank_taken(R), "{}: R (the LoRA rank) must be 8, 16, 32 or 64, got {}", op, R);
    check_size(op, "ld_dy (>= Out)", ld_dy, Out);
    check_size(op, "ld_sb (>= R)", ld_sb, R);
    check_size(op, "ld_du (>= R)", ld_du, R);
    check_size(op, "ld_u (>= R)", ld_u, R);
    const bool work = N > 0;
    check_ptr(op, "dy", dy, work);
    check_ptr(op, "sb", sb, true);
    check_ptr(op, "u", u, work);
    check_ptr(op, "du", du, work);
    check_ptr(op, "dB", dB, true);
    QF_CHECK(lora_dy_products_fits(dy, ld_dy, sb, ld_sb, u, ld_u, Out, R, du, du_bf16, ld_du, dB),
             "{}: Out ({}), ld_dy ({}), ld_sb ({}) and ld_du ({}) must be multiples of 8, ld_u "
             "({}) of 4, and every pointer 16-byte aligned",
             op, Out, ld_dy, ld_sb, ld_du, ld_u);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::lora_dy_products(dy, ld_dy, sb, ld_sb, u, ld_u, N, Out, R, scale, du,
                                         du_bf16, ld_du, dB);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            if (!work) {
                return;
            }
            return cuda::lora_dy_products(ctx.stream, dy, ld_dy, sb, ld_sb, u, ld_u, N, Out, R,
                                          scale, du, du_bf16, ld_du, dB);
#else
            break;
#endif
    }
    throw_unsupported(Op::kLoraDyProducts, ctx.device);
}

}  // namespace qforge::kernels
