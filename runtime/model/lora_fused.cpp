// What is here: the fused bf16 projection (see lora_fused.h). With u = drop(x) A^T, dU = s dy B:
//   forward   u = x A^T (A is the packed rows [out, out + r)); u goes to x's spare columns;
//             y = beta y + [x | u] [W | sB]^T                      one GEMM, K = in + r
//             (or y = bf16([x | u] [W | sB]^T) for an output only read as bf16)
//   backward  dU = dy (sB) (packed columns [in, in + r)); dU goes to dy's spare columns;
//             dB += s dy^T u,  dA += dU^T x,  dx += [dy | dU] [W ; A]   one GEMM, K = out + r
// With dropout the LoRA input is drop(x) (recomputed from the stateless mask, in fp32), and the
// LoRA part of dx, drop'(dU A), cannot join the base GEMM: it is added separately.
#include "runtime/model/lora_fused.h"

#include "kernels/bf16.h"
#include "kernels/dropout.h"
#include "kernels/gemm.h"
#include "kernels/lora_grad.h"
#include "kernels/nf4.h"

namespace qforge {

using kernels::Ctx;
using kernels::gemm;
using kernels::gemm_bf16;

namespace {
int64_t rank_of(const LoraProjection& p) {
    return p.A != nullptr ? p.r : 0;
}

}  // namespace

int64_t bf16_row_stride(int64_t n) {
    return (n + 7) / 8 * 8;
}

bool size_packed(const Ctx& ctx, const LoraProjection& p, PackedProjection& pk) {
    const int64_t r = rank_of(p);
    auto& m = pk.m;
    if (m.view != nullptr) {  // a slice of rows of a larger packed matrix (the same columns)
        QF_CHECK(m.rows == p.out + r && m.view_cols >= p.in + r,
                 "pack_projection: the view is ({}, {} columns), the projection needs ({}, {})",
                 m.rows, m.view_cols, p.out + r, p.in + r);
        return false;
    }
    const int64_t ld = bf16_row_stride(p.in + r), rows = p.out + r;
    const bool same_layout = m.ld == ld && m.rows == rows;
    m.ld = ld;
    m.rows = rows;
    m.buf.bind(ctx);
    const void* before = m.buf.data();
    m.buf.ensure(m.rows * m.ld);
    return !same_layout || m.buf.data() != before;
}

void pack_base(const Ctx& ctx, const ProjectionOnDevice& w, const LoraProjection& p,
               PackedProjection& pk) {
    QF_CHECK(w.rows == p.out && w.cols == p.in,
             "pack_projection: the weight is ({}, {}), the projection expects ({}, {})", w.rows,
             w.cols, p.out, p.in);
    auto& m = pk.m;
    if (w.nf4) {
        kernels::nf4_dequantize_bf16(ctx, m.data(), m.ld, w.nf4_view, p.out, p.in);
    } else {
        kernels::convert_to_bf16(ctx, m.data(), m.ld, w.dense, p.in, p.out, p.in, 1.0f);
    }
}

void pack_lora_factors(const LoraProjection& p, PackedProjection& pk,
                       std::vector<kernels::Bf16Conversion>& conversions) {
    const int64_t r = rank_of(p);
    if (r == 0) {
        return;
    }
    auto& m = pk.m;
    conversions.push_back({m.data() + p.in, m.ld, p.B, r, p.out, r, p.scale});
    conversions.push_back({m.data() + p.out * m.ld, m.ld, p.A, p.in, r, p.in, 1.0f});
}

void pack_projection(const Ctx& ctx, const ProjectionOnDevice& w, const LoraProjection& p,
                     PackedProjection& pk) {
    size_packed(ctx, p, pk);
    pack_base(ctx, w, p, pk);
    std::vector<kernels::Bf16Conversion> conversions;
    pack_lora_factors(p, pk, conversions);
    kernels::convert_to_bf16_batch(ctx, conversions);
}

void prepare_bf16_rows(const Ctx& ctx, Bf16Rows& rows, int64_t N, int64_t cols, int64_t spare) {
    if (rows.view != nullptr) {
        QF_CHECK(rows.rows >= N && rows.view_cols >= cols + spare,
                 "prepare_bf16_rows: the view is ({}, {} columns), expected ({}, {})", rows.rows,
                 rows.view_cols, N, cols + spare);
        return;
    }
    rows.ld = bf16_row_stride(cols + spare);
    rows.rows = N;
    rows.buf.bind(ctx);
    rows.buf.ensure(N * rows.ld);
}

void stage_bf16_rows(const Ctx& ctx, Bf16Rows& rows, const float* x, int64_t N, int64_t cols,
                     int64_t spare) {
    prepare_bf16_rows(ctx, rows, N, cols, spare);
    kernels::convert_to_bf16(ctx, rows.data(), rows.ld, x, cols, N, cols, 1.0f);
}

namespace {

void check_forward(const LoraProjection& p, const PackedProjection& pk, const Bf16Rows& xs,
                   int64_t N) {
    const int64_t r = rank_of(p);
    QF_CHECK(xs.rows >= N && xs.ld >= p.in + r,
             "fused_projection_forward: the staged input is ({}, ld {}), expected ({}, ld >= {})",
             xs.rows, xs.ld, N, p.in + r);
    QF_CHECK(pk.m.rows == p.out + r && pk.m.ld >= p.in + r,
             "fused_projection_forward: the packed weight does not match the projection");
}

// u = drop(x) A^T (fp32, saved for backward; u_ready: already there), and bf16(u) into xs's spare
// columns when the base GEMM follows.
void lora_input(const Ctx& ctx, const LoraProjection& p, const PackedProjection& pk, const float* x,
                Bf16Rows& xs, int64_t N, float* u, DeviceArray<float>& xd, bool into_xs,
                bool u_ready, int64_t ld_u) {
    const int64_t r = rank_of(p);
    if (r == 0) {
        return;
    }
    ld_u = ld_u > 0 ? ld_u : r;
    QF_CHECK(u != nullptr, "fused_projection_forward: an adapted projection needs a u buffer");
    if (u_ready) {
        // kept from the forward: only staged below
    } else if (p.dropout <= 0.0f) {
        gemm_bf16(ctx, false, true, N, r, p.in, 1.0f, xs.data(), xs.ld,
                  pk.m.data() + p.out * pk.m.ld, pk.m.ld, 0.0f, u, ld_u);
    } else {
        gemm(ctx, false, true, N, r, p.in, 1.0f, dropped_input(ctx, p, x, N, xd), p.in, p.A, p.in,
             0.0f, u, ld_u);
    }
    if (into_xs) {
        kernels::convert_to_bf16(ctx, xs.data() + p.in, xs.ld, u, ld_u, N, r, 1.0f);
    }
}

}  // namespace

void fused_projection_forward(const Ctx& ctx, const LoraProjection& p, const PackedProjection& pk,
                              float* y, const float* x, Bf16Rows& xs, int64_t N, float beta,
                              float* u, DeviceArray<float>& xd, const float* y_in, bool u_ready,
                              int64_t ld_u) {
    check_forward(p, pk, xs, N);
    QF_CHECK(y_in == nullptr || beta == 1.0f,
             "fused_projection_forward: a separate y_in is added with beta 1, got beta {}", beta);
    if (N == 0) {
        return;
    }
    lora_input(ctx, p, pk, x, xs, N, u, xd, y != nullptr, u_ready, ld_u);
    if (y == nullptr) {
        return;
    }
    if (y_in != nullptr && y_in != y) {
        kernels::gemm_bf16_add(ctx, false, true, N, p.out, p.in + rank_of(p), 1.0f, xs.data(),
                               xs.ld, pk.m.data(), pk.m.ld, y_in, y, p.out);
        return;
    }
    gemm_bf16(ctx, false, true, N, p.out, p.in + rank_of(p), 1.0f, xs.data(), xs.ld, pk.m.data(),
              pk.m.ld, beta, y, p.out);
}

void fused_projection_forward_to_bf16(const Ctx& ctx, const LoraProjection& p,
                                      const PackedProjection& pk, uint16_t* y, const float* x,
                                      Bf16Rows& xs, int64_t N, float* u, DeviceArray<float>& xd,
                                      bool u_ready, int64_t ld_u) {
    check_forward(p, pk, xs, N);
    QF_CHECK(y != nullptr, "fused_projection_forward_to_bf16: no output");
    if (N == 0) {
        return;
    }
    lora_input(ctx, p, pk, x, xs, N, u, xd, true, u_ready, ld_u);
    kernels::gemm_bf16_to_bf16(ctx, false, true, N, p.out, p.in + rank_of(p), 1.0f, xs.data(),
                               xs.ld, pk.m.data(), pk.m.ld, y, p.out);
}

void fused_projection_backward(const Ctx& ctx, const LoraProjection& p, const PackedProjection& pk,
                               float* dx, float* dA, float* dB, const float* dy, const float* x,
                               const Bf16Rows& xs, const float* u, int64_t N, float dx_beta,
                               Bf16Rows& dys, Bf16Rows& us, DeviceArray<float>& du,
                               DeviceArray<float>& xd, uint16_t* dx_bf16, int64_t ld_u) {
    stage_bf16_rows(ctx, dys, dy, N, p.out, rank_of(p));
    fused_projection_backward_staged(ctx, p, pk, dx, dA, dB, dys, x, xs, u, N, dx_beta, us, du, xd,
                                     dx_bf16, ld_u);
}

void fused_projection_backward_staged(const Ctx& ctx, const LoraProjection& p,
                                      const PackedProjection& pk, float* dx, float* dA, float* dB,
                                      Bf16Rows& dys, const float* x, const Bf16Rows& xs,
                                      const float* u, int64_t N, float dx_beta, Bf16Rows& us,
                                      DeviceArray<float>& du, DeviceArray<float>& xd,
                                      uint16_t* dx_bf16, int64_t ld_u) {
    const int64_t r = rank_of(p);
    ld_u = ld_u > 0 ? ld_u : r;
    QF_CHECK(
        dx_bf16 == nullptr || (dx == nullptr && dx_beta == 0.0f && p.dropout <= 0.0f),
        "fused_projection_backward: a bf16 dx is written whole (no dx, dx_beta 0, no dropout)");
    QF_CHECK(dys.rows >= N && dys.ld >= p.out + r,
             "fused_projection_backward: the staged dy is ({}, ld {}), expected ({}, ld >= {})",
             dys.rows, dys.ld, N, p.out + r);
    // without dA (the caller sums it elsewhere) the staged input is not read
    QF_CHECK(dA == nullptr || (xs.rows >= N && xs.ld >= p.in),
             "fused_projection_backward: the staged input is ({}, ld {}), expected ({}, ld >= {})",
             xs.rows, xs.ld, N, p.in);
    QF_CHECK(pk.m.rows == p.out + r && pk.m.ld >= p.in + r,
             "fused_projection_backward: the packed weight does not match the projection");
    if (N == 0) {
        return;
    }
    if (r > 0) {
        QF_CHECK(dB != nullptr && u != nullptr && (dA != nullptr || p.dropout <= 0.0f),
                 "fused_projection_backward: an adapted projection needs dB, u and (with "
                 "dropout) dA");
        // dU = dy sB (fp32 in du, bf16 into dy's spare columns) and dB += s dy^T u
        du.bind(ctx);
        du.ensure(N * r);
        const uint16_t* sb = pk.m.data() + p.in;
        if (kernels::lora_dy_products_fits(dys.data(), dys.ld, sb, pk.m.ld, u, ld_u, p.out, r,
                                           du.data(), dys.data() + p.out, dys.ld, dB)) {
            // one pass over dy for both
            kernels::lora_dy_products(ctx, dys.data(), dys.ld, sb, pk.m.ld, u, ld_u, N, p.out, r,
                                      p.scale, du.data(), dys.data() + p.out, dys.ld, dB);
        } else {
            if (p.dropout <= 0.0f) {  // dU straight into dy's spare columns, in bf16
                kernels::gemm_bf16_to_bf16(ctx, false, false, N, r, p.out, 1.0f, dys.data(), dys.ld,
                                           sb, pk.m.ld, dys.data() + p.out, dys.ld);
            } else {  // dA reads the fp32 dU too
                gemm_bf16(ctx, false, false, N, r, p.out, 1.0f, dys.data(), dys.ld, sb, pk.m.ld,
                          0.0f, du.data(), r);
                kernels::convert_to_bf16(ctx, dys.data() + p.out, dys.ld, du.data(), r, N, r, 1.0f);
            }
            prepare_bf16_rows(ctx, us, N, r, 0);
            kernels::convert_to_bf16(ctx, us.data(), us.ld, u, ld_u, N, r, 1.0f);
            gemm_bf16(ctx, true, false, p.out, r, N, p.scale, dys.data(), dys.ld, us.data(), us.ld,
                      1.0f, dB, r);
        }
        if (dA == nullptr) {
            // the caller sums dA (the down projection's, in swiglu_backward_bf16_lora)
        } else if (p.dropout <= 0.0f) {
            gemm_bf16(ctx, true, false, r, p.in, N, 1.0f, dys.data() + p.out, dys.ld, xs.data(),
                      xs.ld, 1.0f, dA, p.in);
        } else {
            gemm(ctx, true, false, r, p.in, N, 1.0f, du.data(), r, dropped_input(ctx, p, x, N, xd),
                 p.in, 1.0f, dA, p.in);
        }
    }
    const bool lora_in_gemm = r > 0 && p.dropout <= 0.0f;
    if (dx_bf16 != nullptr) {
        kernels::gemm_bf16_to_bf16(ctx, false, false, N, p.in, p.out + (lora_in_gemm ? r : 0), 1.0f,
                                   dys.data(), dys.ld, pk.m.data(), pk.m.ld, dx_bf16, p.in);
        return;
    }
    if (dx == nullptr) {
        return;
    }
    gemm_bf16(ctx, false, false, N, p.in, p.out + (lora_in_gemm ? r : 0), 1.0f, dys.data(), dys.ld,
              pk.m.data(), pk.m.ld, dx_beta, dx, p.in);
    if (r > 0 && !lora_in_gemm) {  // dx += drop'(dU A)
        xd.bind(ctx);
        xd.ensure(N * p.in);
        gemm(ctx, false, false, N, p.in, r, 1.0f, du.data(), r, p.A, p.in, 0.0f, xd.data(), p.in);
        kernels::dropout_backward(ctx, dx, xd.data(), N * p.in, p.dropout, p.seed, p.key);
    }
}

}  // namespace qforge
