// What is here: embedding lookup against a plain gather, the scatter-add backward (repeated ids,
// += convention, finite differences) and the out-of-range id error.
#include <gtest/gtest.h>
#include <vector>

#include "kernels/embedding.h"
#include "kernels/kernel_test_util.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::embedding_backward;
using kernels::embedding_forward;

constexpr int64_t N = 11, C = 33, V = 37;

TEST(Embedding, ForwardGathersRows) {
    const auto table = random_floats(V * C, -1, 1, 1);
    const auto ids = random_ints(N, 0, V, 2);
    std::vector<float> out(N * C);
    embedding_forward(kCpuCtx, out.data(), ids.data(), table.data(), N, C, V);
    for (int64_t n = 0; n < N; n++) {
        for (int64_t c = 0; c < C; c++) {
            ASSERT_EQ(out[n * C + c], table[ids[n] * C + c]) << "row " << n << " id " << ids[n];
        }
    }
}

TEST(Embedding, BackwardMatchesFiniteDifferences) {
    auto table = random_floats(V * C, -1, 1, 1);
    auto ids = random_ints(N, 0, V, 2);
    ids[3] = ids[7] = ids[9];  // repeated ids must add up
    const auto w = random_floats(N * C, -1, 1, 3);
    auto loss = [&] {
        std::vector<float> out(N * C);
        embedding_forward(kCpuCtx, out.data(), ids.data(), table.data(), N, C, V);
        return dot(out, w);
    };
    const auto dtable0 = random_floats(V * C, -1, 1, 4);
    auto dtable = dtable0;
    embedding_backward(kCpuCtx, dtable.data(), w.data(), ids.data(), N, C);
    EXPECT_LT(rel_error(added(dtable, dtable0), numeric_gradient(table, loss)), kFdTolerance);
    // Frozen table: nothing to do, no error.
    embedding_backward(kCpuCtx, nullptr, w.data(), ids.data(), N, C);
}

TEST(Embedding, RejectsIdsOutsideVocab) {
    const auto table = random_floats(V * C, -1, 1, 1);
    std::vector<int32_t> ids = {0, 5, static_cast<int32_t>(V), 2};
    std::vector<float> out(4 * C);
    expect_error([&] { embedding_forward(kCpuCtx, out.data(), ids.data(), table.data(), 4, C, V); },
                 {"embedding_forward", "ids[2] = 37", "[0, V=37)"});
    ids[2] = -1;
    expect_error([&] { embedding_forward(kCpuCtx, out.data(), ids.data(), table.data(), 4, C, V); },
                 {"ids[2] = -1"});
    std::vector<float> dtable(V * C, 0.0f);
    expect_error([&] { embedding_backward(kCpuCtx, dtable.data(), out.data(), ids.data(), 4, C); },
                 {"embedding_backward", "ids[2] = -1"});
}

}  // namespace
}  // namespace qforge::test
