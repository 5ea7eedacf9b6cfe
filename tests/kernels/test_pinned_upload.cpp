// Pinned host staging (kernels/memory.h): an asynchronous upload from a PinnedHostBuffer lands
// the same bytes as the synchronous one, on the CPU backend and (when present) on a GPU, and a
// moved-from buffer owns nothing. The side stream and events (kernels/stream.h): a device ->
// host -> device round trip on a side stream, ordered against ctx.stream by events only, brings
// back what ctx.stream wrote; pinned_device_view gives kernels the pinned bytes.
#include <gtest/gtest.h>
#include <vector>

#include "kernels/embedding.h"
#include "kernels/memory.h"
#include "kernels/registry.h"
#include "kernels/stream.h"
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

// ctx.stream fills a buffer; a side stream copies it out to pinned memory and back into a second
// buffer after waiting on events; ctx.stream waits for that and reads it. The embedding kernel
// then gathers rows straight from pinned memory through pinned_device_view.
void side_stream_round_trip(const Ctx& ctx) {
    const int64_t rows = 64, cols = 48;
    const auto values = test::random_floats(static_cast<std::size_t>(rows * cols), -3.0f, 3.0f);
    const std::size_t bytes = values.size() * sizeof(float);
    BackendBuffer a(ctx, bytes), b(ctx, bytes);
    buffer_upload(ctx, a.data(), values.data(), bytes);
    PinnedHostBuffer host(ctx, bytes);
    Stream side(ctx);
    const Ctx copy{ctx.device, side.get()};
    Event written(ctx), copied(ctx);
    event_record(ctx, written.get());
    stream_wait(copy, written.get());
    buffer_download_async(copy, host.data(), a.data(), bytes);
    buffer_upload_async(copy, b.data(), host.data(), bytes);
    event_record(copy, copied.get());
    stream_wait(ctx, copied.get());
    std::vector<float> back(values.size());
    buffer_download(ctx, back.data(), b.data(), bytes);
    EXPECT_EQ(back, values);

    const std::vector<int32_t> ids = {5, 0, 63, 5, 17};
    BackendBuffer ids_dev(ctx, ids.size() * sizeof(int32_t)), out(ctx, 5 * cols * sizeof(float));
    buffer_upload(ctx, ids_dev.data(), ids.data(), ids.size() * sizeof(int32_t));
    const auto* table = static_cast<const float*>(pinned_device_view(ctx, host.data()));
    embedding_forward(ctx, static_cast<float*>(out.data()),
                      static_cast<const int32_t*>(ids_dev.data()), table, 5, cols, rows);
    std::vector<float> got(static_cast<std::size_t>(5 * cols));
    buffer_download(ctx, got.data(), out.data(), got.size() * sizeof(float));
    for (std::size_t i = 0; i < ids.size(); ++i) {
        for (int64_t c = 0; c < cols; ++c) {
            ASSERT_EQ(got[i * cols + static_cast<std::size_t>(c)],
                      values[static_cast<std::size_t>(ids[i] * cols + c)]);
        }
    }
}

TEST(SideStream, CpuRoundTripAndPinnedGather) {
    side_stream_round_trip(Ctx{});
}

TEST(SideStream, CudaRoundTripAndPinnedGather) {
    if (!cuda_available()) {
        GTEST_SKIP() << "no GPU present: the side stream is checked on the GPU machine";
    }
    side_stream_round_trip(Ctx{Device::kCuda, nullptr});
}

}  // namespace
}  // namespace qforge::kernels
