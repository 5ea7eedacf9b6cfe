// What is here: attention forward against a naive computation written here (GQA, KV-cache
// offset, packing segments, strided k/v inside a bigger cache buffer), backward against finite
// differences, and the identities the runtime relies on (KV-cache rows = full-attention rows,
// packed segments = separate sequences, GQA = MHA with repeated kv heads).
#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/kernel_test_util.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::AttnParams;

struct AttnShape {
    int64_t B, T, Tk, Hq, Hkv, D, q_pos0;
    bool segments;  // pack each batch row into segments (needs Tk == T, q_pos0 == 0)
    bool padded;    // q/out rows and k/v rows padded, k/v inside a longer cache buffer
};

std::string shape_name(const AttnShape& s) {
    return fmt::format("B{}_T{}_Tk{}_Hq{}_Hkv{}_D{}_qpos{}{}{}", s.B, s.T, s.Tk, s.Hq, s.Hkv, s.D,
                       s.q_pos0, s.segments ? "_seg" : "", s.padded ? "_padded" : "");
}

void PrintTo(const AttnShape& s, std::ostream* os) {
    *os << shape_name(s);
}

// Host buffers laid out as the shape asks, plus the params struct pointing into them.
struct AttnData {
    AttnShape s;
    int64_t qrs, qbs, kvrs, kvbs;
    std::vector<float> q, k, v, out, lse;
    std::vector<int32_t> seg;

    explicit AttnData(const AttnShape& shape) : s(shape) {
        qrs = s.Hq * s.D + (s.padded ? 2 : 0);
        qbs = s.T * qrs + (s.padded ? 5 : 0);
        kvrs = s.Hkv * s.D + (s.padded ? 3 : 0);
        kvbs = (s.Tk + (s.padded ? 4 : 0)) * kvrs;  // a cache longer than Tk
        q = random_floats(s.B * qbs, -1, 1, 1);
        k = random_floats(s.B * kvbs, -1, 1, 2);
        v = random_floats(s.B * kvbs, -1, 1, 3);
        out.assign(q.size(), std::numeric_limits<float>::quiet_NaN());
        lse.assign(s.B * s.Hq * s.T, std::numeric_limits<float>::quiet_NaN());
        if (s.segments) {
            // Segments of uneven lengths: ids 0,0,1,1,1,2,... (a new segment every 2-3 tokens).
            seg.resize(s.B * s.T);
            for (int64_t b = 0; b < s.B; b++) {
                for (int64_t t = 0; t < s.T; t++) {
                    seg[b * s.T + t] = static_cast<int32_t>((t + b) * 2 / 5 + 7 * b);
                }
            }
        }
    }

    AttnParams params() {
        AttnParams p{};
        p.out = out.data();
        p.lse = lse.data();
        p.q = q.data();
        p.k = k.data();
        p.v = v.data();
        p.segment_ids = seg.empty() ? nullptr : seg.data();
        p.B = s.B;
        p.T = s.T;
        p.Tk = s.Tk;
        p.Hq = s.Hq;
        p.Hkv = s.Hkv;
        p.D = s.D;
        p.q_pos0 = s.q_pos0;
        p.q_batch_stride = qbs;
        p.q_row_stride = qrs;
        p.kv_batch_stride = kvbs;
        p.kv_row_stride = kvrs;
        return p;
    }

    float qv(int64_t b, int64_t t, int64_t h, int64_t d) const {
        return q[b * qbs + t * qrs + h * s.D + d];
    }

    float kv(const std::vector<float>& x, int64_t b, int64_t j, int64_t g, int64_t d) const {
        return x[b * kvbs + j * kvrs + g * s.D + d];
    }
};

// Naive attention in double: full masked score matrix per (b, h), softmax, weighted sum.
// out_want (B,T,Hq,D) dense; lse_want (B,Hq,T).
void naive_attention(const AttnData& a, std::vector<double>& out_want,
                     std::vector<double>& lse_want) {
    const auto& s = a.s;
    out_want.assign(s.B * s.T * s.Hq * s.D, 0.0);
    lse_want.assign(s.B * s.Hq * s.T, 0.0);
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.D));
    for (int64_t b = 0; b < s.B; b++) {
        for (int64_t h = 0; h < s.Hq; h++) {
            const int64_t g = h * s.Hkv / s.Hq;
            for (int64_t t = 0; t < s.T; t++) {
                std::vector<double> score(s.Tk, -std::numeric_limits<double>::infinity());
                for (int64_t j = 0; j < s.Tk; j++) {
                    const bool causal = j <= s.q_pos0 + t;
                    const bool same = a.seg.empty() || a.seg[b * s.T + j] == a.seg[b * s.T + t];
                    if (causal && same) {
                        double dotp = 0.0;
                        for (int64_t d = 0; d < s.D; d++) {
                            dotp += static_cast<double>(a.qv(b, t, h, d)) * a.kv(a.k, b, j, g, d);
                        }
                        score[j] = dotp * scale;
                    }
                }
                double z = 0.0;
                for (double x : score) {
                    z += std::exp(x);  // exp(-inf) = 0; scores are small, no shift needed
                }
                lse_want[(b * s.Hq + h) * s.T + t] = std::log(z);
                for (int64_t d = 0; d < s.D; d++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < s.Tk; j++) {
                        acc += std::exp(score[j]) / z * a.kv(a.v, b, j, g, d);
                    }
                    out_want[((b * s.T + t) * s.Hq + h) * s.D + d] = acc;
                }
            }
        }
    }
}

class AttentionShapes : public ::testing::TestWithParam<AttnShape> {};

TEST_P(AttentionShapes, ForwardMatchesNaive) {
    AttnData a(GetParam());
    const auto& s = a.s;
    kernels::attention_forward(kCpuCtx, a.params());
    std::vector<double> out_want, lse_want;
    naive_attention(a, out_want, lse_want);
    for (int64_t b = 0; b < s.B; b++) {
        for (int64_t t = 0; t < s.T; t++) {
            for (int64_t h = 0; h < s.Hq; h++) {
                for (int64_t d = 0; d < s.D; d++) {
                    ASSERT_NEAR(a.out[b * a.qbs + t * a.qrs + h * s.D + d],
                                out_want[((b * s.T + t) * s.Hq + h) * s.D + d], 1e-6)
                        << "out b=" << b << " t=" << t << " h=" << h << " d=" << d;
                }
                ASSERT_NEAR(a.lse[(b * s.Hq + h) * s.T + t], lse_want[(b * s.Hq + h) * s.T + t],
                            1e-6)
                    << "lse b=" << b << " h=" << h << " t=" << t;
            }
        }
    }
    // Padding between rows and batches is never written (out starts as NaN everywhere).
    size_t written = 0;
    for (float x : a.out) {
        written += std::isnan(x) ? 0 : 1;
    }
    EXPECT_EQ(written, static_cast<size_t>(s.B * s.T * s.Hq * s.D));
}

TEST_P(AttentionShapes, BackwardMatchesFiniteDifferences) {
    AttnData a(GetParam());
    const auto& s = a.s;
    const auto dout = random_floats(a.q.size(), -1, 1, 4);  // loss = sum dout * out
    auto loss = [&] {
        auto p = a.params();
        std::vector<float> out(a.q.size(), 0.0f);
        p.out = out.data();
        p.lse = nullptr;
        kernels::attention_forward(kCpuCtx, p);
        return dot(out, dout);
    };
    kernels::attention_forward(kCpuCtx, a.params());  // fills lse
    const auto dq0 = random_floats(a.q.size(), -1, 1, 5);
    const auto dk0 = random_floats(a.k.size(), -1, 1, 6);
    const auto dv0 = random_floats(a.v.size(), -1, 1, 7);
    auto dq = dq0, dk = dk0, dv = dv0;
    kernels::attention_backward(kCpuCtx, a.params(), dq.data(), dk.data(), dv.data(), dout.data());
    EXPECT_LT(rel_error(added(dq, dq0), numeric_gradient(a.q, loss)), kFdTolerance)
        << shape_name(s);
    EXPECT_LT(rel_error(added(dk, dk0), numeric_gradient(a.k, loss)), kFdTolerance)
        << shape_name(s);
    EXPECT_LT(rel_error(added(dv, dv0), numeric_gradient(a.v, loss)), kFdTolerance)
        << shape_name(s);

    // Unwanted gradients may be nullptr; the others come out the same.
    auto dv_only = dv0;
    kernels::attention_backward(kCpuCtx, a.params(), nullptr, nullptr, dv_only.data(), dout.data());
    EXPECT_EQ(dv_only, dv);
}

INSTANTIATE_TEST_SUITE_P(
    Attention, AttentionShapes,
    ::testing::Values(AttnShape{2, 5, 5, 4, 2, 6, 0, false, false},   // GQA, even D
                      AttnShape{2, 5, 5, 4, 2, 7, 0, false, true},    // odd D, strided
                      AttnShape{2, 5, 9, 4, 2, 8, 4, false, true},    // KV cache, q_pos0 > 0
                      AttnShape{1, 3, 10, 2, 1, 6, 2, false, false},  // keys past the queries
                      AttnShape{1, 1, 13, 4, 1, 8, 12, false, true},  // decode step, MQA
                      AttnShape{2, 7, 7, 4, 2, 6, 0, true, false},    // packed segments
                      AttnShape{2, 7, 7, 2, 2, 5, 0, true, true}),    // segments, MHA, strided
    [](const auto& param_info) { return shape_name(param_info.param); });

TEST(Attention, KvCacheRowsEqualFullAttention) {
    const int64_t T = 9, Hq = 4, Hkv = 2, D = 8;
    AttnData full(AttnShape{1, T, T, Hq, Hkv, D, 0, false, false});
    kernels::attention_forward(kCpuCtx, full.params());
    // Prefill 4 positions, then the remaining 5 at once, then one token at a time.
    for (const int64_t q_pos0 : {4, 0, 1, 2, 3, 5, 6, 7, 8}) {
        const int64_t Tq = q_pos0 == 4 ? 5 : 1;
        auto p = full.params();
        std::vector<float> out(Tq * Hq * D), lse(Hq * Tq);
        p.out = out.data();
        p.lse = lse.data();
        p.q = full.q.data() + q_pos0 * Hq * D;
        p.T = Tq;
        p.Tk = q_pos0 + Tq;
        p.q_pos0 = q_pos0;
        p.q_batch_stride = Tq * Hq * D;
        kernels::attention_forward(kCpuCtx, p);
        for (int64_t t = 0; t < Tq; t++) {
            for (int64_t j = 0; j < Hq * D; j++) {
                ASSERT_NEAR(out[t * Hq * D + j], full.out[(q_pos0 + t) * Hq * D + j], 1e-6)
                    << "q_pos0=" << q_pos0 << " t=" << t;
            }
            for (int64_t h = 0; h < Hq; h++) {
                ASSERT_NEAR(lse[h * Tq + t], full.lse[h * T + q_pos0 + t], 1e-6);
            }
        }
    }
}

TEST(Attention, PackedSegmentsEqualSeparateSequences) {
    const int64_t T = 7, Hq = 4, Hkv = 2, D = 6, split = 3;
    AttnData packed(AttnShape{1, T, T, Hq, Hkv, D, 0, false, false});
    packed.seg = {4, 4, 4, 9, 9, 9, 9};  // two documents of 3 and 4 tokens
    kernels::attention_forward(kCpuCtx, packed.params());
    const std::pair<int64_t, int64_t> documents[] = {{0, split}, {split, T - split}};
    for (const auto& [start, len] : documents) {
        auto p = packed.params();
        std::vector<float> out(len * Hq * D), lse(Hq * len);
        p.out = out.data();
        p.lse = lse.data();
        p.q = packed.q.data() + start * Hq * D;
        p.k = packed.k.data() + start * Hkv * D;
        p.v = packed.v.data() + start * Hkv * D;
        p.segment_ids = nullptr;
        p.T = p.Tk = len;
        kernels::attention_forward(kCpuCtx, p);
        for (int64_t j = 0; j < len * Hq * D; j++) {
            ASSERT_NEAR(out[j], packed.out[start * Hq * D + j], 1e-6) << "segment at " << start;
        }
    }
}

TEST(Attention, GqaEqualsMhaWithRepeatedKvHeads) {
    const int64_t T = 6, Hq = 4, Hkv = 2, D = 7;
    AttnData gqa(AttnShape{1, T, T, Hq, Hkv, D, 0, false, false});
    AttnData mha(AttnShape{1, T, T, Hq, Hq, D, 0, false, false});
    mha.q = gqa.q;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t h = 0; h < Hq; h++) {
            for (int64_t d = 0; d < D; d++) {
                const int64_t g = h / (Hq / Hkv);
                mha.k[(t * Hq + h) * D + d] = gqa.k[(t * Hkv + g) * D + d];
                mha.v[(t * Hq + h) * D + d] = gqa.v[(t * Hkv + g) * D + d];
            }
        }
    }
    kernels::attention_forward(kCpuCtx, gqa.params());
    kernels::attention_forward(kCpuCtx, mha.params());
    EXPECT_EQ(gqa.out, mha.out);

    // dk of a shared kv head is the sum of the dk of the heads that share it.
    const auto dout = random_floats(gqa.q.size(), -1, 1, 9);
    std::vector<float> dk_gqa(gqa.k.size(), 0.0f), dk_mha(mha.k.size(), 0.0f);
    kernels::attention_backward(kCpuCtx, gqa.params(), nullptr, dk_gqa.data(), nullptr,
                                dout.data());
    kernels::attention_backward(kCpuCtx, mha.params(), nullptr, dk_mha.data(), nullptr,
                                dout.data());
    for (int64_t t = 0; t < T; t++) {
        for (int64_t g = 0; g < Hkv; g++) {
            for (int64_t d = 0; d < D; d++) {
                const double want = static_cast<double>(dk_mha[(t * Hq + 2 * g) * D + d]) +
                                    dk_mha[(t * Hq + 2 * g + 1) * D + d];
                ASSERT_NEAR(dk_gqa[(t * Hkv + g) * D + d], want, 1e-6);
            }
        }
    }
}

TEST(Attention, RejectsInconsistentParams) {
    AttnData a(AttnShape{1, 4, 4, 4, 2, 6, 0, false, false});
    auto p = a.params();
    p.Hkv = 3;
    expect_error([&] { kernels::attention_forward(kCpuCtx, p); },
                 {"attention_forward", "multiple of Hkv (3)"});
    p = a.params();
    p.q_pos0 = 2;  // Tk = 4 < q_pos0 + T = 6
    expect_error([&] { kernels::attention_forward(kCpuCtx, p); }, {"Tk >= q_pos0 + T"});
    a.seg = {0, 0, 1, 1};
    p = a.params();
    p.Tk = 6;
    p.q_pos0 = 2;
    expect_error([&] { kernels::attention_forward(kCpuCtx, p); }, {"segment_ids", "q_pos0 == 0"});
    p = a.params();
    p.q_row_stride = 5;
    expect_error([&] { kernels::attention_forward(kCpuCtx, p); }, {"q_row_stride", "24"});
    p = a.params();
    p.lse = nullptr;
    std::vector<float> dq(a.q.size());
    expect_error(
        [&] { kernels::attention_backward(kCpuCtx, p, dq.data(), nullptr, nullptr, a.q.data()); },
        {"attention_backward", "lse"});
}

}  // namespace
}  // namespace qforge::test
