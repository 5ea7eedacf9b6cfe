// Pinned host staging (kernels/memory.h): an asynchronous upload from a PinnedHostBuffer lands
// the same bytes as the synchronous one, on the CPU backend and (when present) on a GPU, and a
// moved-from buffer owns nothing.
#include <gtest/gtest.h>
#include <vector>

#include "kernels/memory.h"
#include "kernels/registry.h"
#include "support/test_support.h"

namespace qforge::kernels {
namespace {

void round_trip(const Ctx& ctx) {
    const auto values = test::random_floats(1000, -3.0f, 3.0f);
    const std::size_t bytes = values.size() * sizeof(float);
    PinnedHostBuffer staging(ctx, bytes);
    ASSERT_NE(staging.data(), nullptr);
    std::copy(values.begin(), values.end(), static_cast<float*>(staging.data()));
    BackendBuffer device(ctx, bytes);
    buffer_upload_async(ctx, device.data(), staging.data(), bytes);
    stream_synchronize(ctx);
    std::vector<float> back(values.size());
    buffer_download(ctx, back.data(), device.data(), bytes);
    EXPECT_EQ(back, values);

    PinnedHostBuffer moved(std::move(staging));
    EXPECT_EQ(staging.data(), nullptr);  // NOLINT(bugprone-use-after-move): checking the move
    EXPECT_EQ(moved.bytes(), bytes);
}

TEST(PinnedUpload, CpuRoundTrip) {
    round_trip(Ctx{});
}

TEST(PinnedUpload, CudaRoundTrip) {
    if (!cuda_available()) {
        GTEST_SKIP() << "no GPU present: the pinned upload to a GPU is checked on the GPU machine";
    }
    round_trip(Ctx{Device::kCuda, nullptr});
}

}  // namespace
}  // namespace qforge::kernels
