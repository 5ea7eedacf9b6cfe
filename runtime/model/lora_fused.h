// What is here: the fused form of one adapted projection (lora_ops.h) for bf16 GEMMs, used by the
// train step on a GPU with train.matmul_precision bf16. LoRA rides along inside the base GEMM by
// concatenating along K instead of adding a second full-size (N, out) pass:
//   forward   y  = [x | u] [W | sB]^T           = x W^T + s u B^T,   u = drop(x) A^T
//   backward  dx = [dy | dU] [W ; A]             = dy W + dU A,       dU = s dy B
// so one packed (out + r, in + r) bf16 matrix per projection serves both passes:
//   rows [0, out):        W (NF4 dequantized straight to bf16) | s B
//   rows [out, out + r):  A                                      | (unused)
// and an activation is staged once to bf16 with r spare columns for u (or dU).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/bf16_conversion.h"
#include "kernels/common.h"
#include "runtime/model/llama_on_device.h"
#include "runtime/model/lora_ops.h"
#include "runtime/tensor/device_array.h"

namespace qforge {

// A row-major bf16 matrix (as uint16 bits) with a padded row stride (a multiple of 8 elements,
// 16 bytes, so every row start suits the tensor-core GEMM kernels). It owns its buffer, or is a
// view into a larger matrix (view_of): then its ld is the larger matrix's, and packing or
// preparing it only checks that the view is large enough (rows, and view_cols columns).
struct Bf16Rows {
    DeviceArray<uint16_t> buf;
    int64_t rows = 0, ld = 0;
    uint16_t* view = nullptr;  // set by view_of
    int64_t view_cols = 0;     // the columns a view may use (from its first column to ld)

    uint16_t* data() { return view != nullptr ? view : buf.data(); }

    const uint16_t* data() const { return view != nullptr ? view : buf.data(); }

    // This becomes a view of rows x (ld - col0) of `whole` starting at column col0 of row row0.
    void view_of(Bf16Rows& whole, int64_t row0, int64_t col0, int64_t nrows) {
        view = whole.data() + row0 * whole.ld + col0;
        rows = nrows;
        ld = whole.ld;
        view_cols = whole.ld - col0;
    }
};

// One projection packed as described above; `layer` says whose base weight it holds, so the
// backward of a layer reuses what its recompute dequantized (the LoRA factors, which change
// every step, are packed separately: pack_lora_factors).
struct PackedProjection {
    Bf16Rows m;
    int64_t layer = -1;
};

// n rounded up to a multiple of 8.
int64_t bf16_row_stride(int64_t n);

// Packs projection p (weights w: NF4 or dense fp32) into pk.m: size_packed, pack_base, then the
// LoRA factors.
void pack_projection(const kernels::Ctx& ctx, const ProjectionOnDevice& w, const LoraProjection& p,
                     PackedProjection& pk);

// Sizes pk.m for p (a view is only checked); true when its layout changed or its buffer was
// allocated anew (what it held is gone).
bool size_packed(const kernels::Ctx& ctx, const LoraProjection& p, PackedProjection& pk);

// The base weight w of p into pk.m's first p.out rows and p.in columns (pk.m sized for p).
void pack_base(const kernels::Ctx& ctx, const ProjectionOnDevice& w, const LoraProjection& p,
               PackedProjection& pk);

// Appends the conversions that write p's LoRA factors into pk.m (sized for p): s B into the
// columns [in, in + r), A into the rows [out, out + r); none without LoRA.
void pack_lora_factors(const LoraProjection& p, PackedProjection& pk,
                       std::vector<kernels::Bf16Conversion>& conversions);

// Sizes rows for (N, cols) values plus `spare` columns (row stride bf16_row_stride(cols +
// spare)), leaving the contents to the caller (a kernel that writes bf16 directly).
void prepare_bf16_rows(const kernels::Ctx& ctx, Bf16Rows& rows, int64_t N, int64_t cols,
                       int64_t spare);

// Stages x (N, cols) fp32 into rows (N, bf16_row_stride(cols + spare)) bf16.
void stage_bf16_rows(const kernels::Ctx& ctx, Bf16Rows& rows, const float* x, int64_t N,
                     int64_t cols, int64_t spare);

// y (N, out) = beta y + x W^T + s drop(x) A^T B^T. xs: x staged with >= r spare columns (they are
// overwritten with u). u (N, r) fp32 receives drop(x) A^T (saved for backward). xd: fp32 scratch
// for the dropped input (dropout > 0 only). y == nullptr: u only (a recompute whose output is
// not needed). y_in (N, out), when given with beta 1, is read in place of y: y = y_in + x W^T + ...
// (a residual add straight into a new buffer, without first copying y_in there). u_ready: u
// already holds drop(x) A^T (kept from the forward, or made for several projections at once by
// one GEMM): it is only staged into xs. ld_u: u's row stride (0: r).
void fused_projection_forward(const kernels::Ctx& ctx, const LoraProjection& p,
                              const PackedProjection& pk, float* y, const float* x, Bf16Rows& xs,
                              int64_t N, float beta, float* u, DeviceArray<float>& xd,
                              const float* y_in = nullptr, bool u_ready = false, int64_t ld_u = 0);

// The same with y (N, out) written in bf16 (contiguous, rounded from the fp32 accumulation; no
// beta): for an output only read as bf16 (the MLP's gate and up, read by swiglu_forward_bf16).
void fused_projection_forward_to_bf16(const kernels::Ctx& ctx, const LoraProjection& p,
                                      const PackedProjection& pk, uint16_t* y, const float* x,
                                      Bf16Rows& xs, int64_t N, float* u, DeviceArray<float>& xd,
                                      bool u_ready = false, int64_t ld_u = 0);

// dx (N, in) = dx_beta dx + dy W + s drop'(dy B A) (dx_beta 0: dx is written without being
// read); dA += dU^T drop(x); dB += s dy^T u (dA, dB nullptr when the projection has no adapter;
// dA alone nullptr without dropout: the caller sums it from dU, and xs is not read).
// xs: x staged (its columns [0, in) are read). dys, us, du, xd: scratch. dx_bf16: dx written in
// bf16 instead, (N, in) contiguous (then dx == nullptr, dx_beta 0, and no dropout). ld_u: u's
// row stride (0: r).
void fused_projection_backward(const kernels::Ctx& ctx, const LoraProjection& p,
                               const PackedProjection& pk, float* dx, float* dA, float* dB,
                               const float* dy, const float* x, const Bf16Rows& xs, const float* u,
                               int64_t N, float dx_beta, Bf16Rows& dys, Bf16Rows& us,
                               DeviceArray<float>& du, DeviceArray<float>& xd,
                               uint16_t* dx_bf16 = nullptr, int64_t ld_u = 0);

// The same with dy already staged in dys (N rows, >= r spare columns, which are overwritten with
// dU): for a dy that a kernel wrote in bf16 directly (swiglu_backward_bf16).
void fused_projection_backward_staged(const kernels::Ctx& ctx, const LoraProjection& p,
                                      const PackedProjection& pk, float* dx, float* dA, float* dB,
                                      Bf16Rows& dys, const float* x, const Bf16Rows& xs,
                                      const float* u, int64_t N, float dx_beta, Bf16Rows& us,
                                      DeviceArray<float>& du, DeviceArray<float>& xd,
                                      uint16_t* dx_bf16 = nullptr, int64_t ld_u = 0);

}  // namespace qforge
