// CUDA graphs (kernels/graph.h): work captured from a stream of its own, and from a side stream
// it forks and joins through events, is not run by the capture; each launch runs it again on the
// buffers' current contents (a replay sees new inputs), with the calls kept at a cut run between
// the graphs, in order. A call that cannot be captured (a
// synchronous download) fails the capture with a message and leaves the stream usable. Memsets
// in the capture run as kernel nodes that clear exactly the same bytes, in the same order with
// the work around them. On the CPU backend there are no graphs, and capture says so.
#include <algorithm>
#include <cstddef>
#include <gtest/gtest.h>
#include <utility>
#include <vector>

#include "kernels/embedding.h"
#include "kernels/graph.h"
#include "kernels/memory.h"
#include "kernels/registry.h"
#include "kernels/stream.h"
#include "support/test_support.h"

namespace qforge::kernels {
namespace {

TEST(StreamGraph, CpuHasNoGraphs) {
    EXPECT_FALSE(graph_supported(Device::kCpu));
    StreamGraph g;
    EXPECT_FALSE(g.captured());
    EXPECT_THROW(g.cut([] {}), Error);  // only inside a capture
    try {
        g.capture(Ctx{}, [] {});
        FAIL() << "capture on the CPU backend should throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("CUDA backend"), std::string::npos) << e.what();
    }
}

TEST(StreamGraph, ReplaysCapturedWorkOnCurrentInputs) {
    if (!cuda_available()) {
        GTEST_SKIP() << "no GPU present: CUDA graphs are checked on the GPU machine";
    }
    const Ctx base{Device::kCuda, nullptr};
    ASSERT_TRUE(graph_supported(base.device));
    Stream main_stream(base), side_stream(base);
    const Ctx ctx{Device::kCuda, main_stream.get()}, side{Device::kCuda, side_stream.get()};
    Event forked(base), joined(base);

    // out = embedding rows of ids (a kernel), then copied to out2 on the side stream
    const int64_t V = 37, C = 24, N = 19;
    const auto table = test::random_floats(V * C, -2.0f, 2.0f);
    BackendBuffer table_d(ctx, table.size() * sizeof(float));
    buffer_upload(ctx, table_d.data(), table.data(), table.size() * sizeof(float));
    BackendBuffer ids_d(ctx, N * sizeof(int32_t)), out_d(ctx, N * C * sizeof(float)),
        out2_d(ctx, N * C * sizeof(float)), out3_d(ctx, N * C * sizeof(float));
    auto* out = static_cast<float*>(out_d.data());
    auto* out2 = static_cast<float*>(out2_d.data());
    auto* out3 = static_cast<float*>(out3_d.data());
    auto upload_ids = [&](int32_t shift) {
        std::vector<int32_t> ids(N);
        for (int64_t i = 0; i < N; ++i) {
            ids[i] = static_cast<int32_t>((i * 7 + shift) % V);
        }
        buffer_upload(ctx, ids_d.data(), ids.data(), ids.size() * sizeof(int32_t));
        return ids;
    };
    upload_ids(0);
    fill(ctx, out2, N * C, -1.0f);
    stream_synchronize(ctx);

    // graph 1: the embedding, then a copy on a side stream forked and joined through events;
    // a cut: the same copy again as a plain call between graphs; graph 2: out cleared, which
    // must wait for the cut's copy
    int cut_calls = 0;
    StreamGraph graph;
    graph.capture(ctx, [&] {
        // (ids checked by the caller: the kernel's own check would wait for the stream)
        embedding_forward(ctx, out, static_cast<const int32_t*>(ids_d.data()),
                          static_cast<const float*>(table_d.data()), N, C, V,
                          IndexCheck::kCheckedByCaller);
        event_record(ctx, forked.get());
        stream_wait(side, forked.get());
        buffer_copy(side, out2, out, N * C * sizeof(float));
        event_record(side, joined.get());
        stream_wait(ctx, joined.get());
        EXPECT_TRUE(graph.capturing());
        graph.cut([&, ctx, side] {
            ++cut_calls;
            event_record(ctx, forked.get());
            stream_wait(side, forked.get());
            buffer_copy(side, out3, out, N * C * sizeof(float));
            event_record(side, joined.get());
            stream_wait(ctx, joined.get());
        });
        fill(ctx, out, N * C, 0.0f);
    });
    ASSERT_TRUE(graph.captured());
    EXPECT_FALSE(graph.capturing());
    EXPECT_EQ(cut_calls, 0) << "a cut call runs at launch, not at capture";
    std::vector<float> got(N * C);
    stream_synchronize(ctx);
    buffer_download(ctx, got.data(), out2, got.size() * sizeof(float));
    EXPECT_EQ(got[0], -1.0f) << "the capture itself must not run the work";

    for (const int32_t shift : {3, 11}) {
        const auto ids = upload_ids(shift);
        graph.launch(ctx);
        stream_synchronize(ctx);
        for (float* copy : {out2, out3}) {
            buffer_download(ctx, got.data(), copy, got.size() * sizeof(float));
            for (int64_t i = 0; i < N; ++i) {
                for (int64_t c = 0; c < C; ++c) {
                    ASSERT_EQ(got[i * C + c], table[ids[i] * C + c]) << "row " << i << " col " << c;
                }
            }
        }
        buffer_download(ctx, got.data(), out, got.size() * sizeof(float));
        EXPECT_EQ(got[N * C - 1], 0.0f);
    }
    EXPECT_EQ(cut_calls, 2);
}

TEST(StreamGraph, UncapturableWorkFailsWithAMessage) {
    if (!cuda_available()) {
        GTEST_SKIP() << "no GPU present: CUDA graphs are checked on the GPU machine";
    }
    const Ctx base{Device::kCuda, nullptr};
    Stream s(base);
    const Ctx ctx{Device::kCuda, s.get()};
    BackendBuffer buf(ctx, 64 * sizeof(float));
    std::vector<float> host(64);
    StreamGraph graph;
    EXPECT_THROW(graph.capture(ctx,
                               [&] {
                                   fill(ctx, static_cast<float*>(buf.data()), 64, 2.0f);
                                   buffer_download(ctx, host.data(), buf.data(),
                                                   host.size() * sizeof(float));
                               }),
                 Error);
    EXPECT_FALSE(graph.captured());
    fill(ctx, static_cast<float*>(buf.data()), 64, 3.0f);  // the stream still works
    buffer_download(ctx, host.data(), buf.data(), host.size() * sizeof(float));
    EXPECT_EQ(host[63], 3.0f);
    EXPECT_THROW(graph.launch(ctx), Error);
}

TEST(StreamGraph, MemsetsRunAsKernelsOnTheSameBytesInOrder) {
    if (!cuda_available()) {
        GTEST_SKIP() << "no GPU present: CUDA graphs are checked on the GPU machine";
    }
    const Ctx base{Device::kCuda, nullptr};
    Stream s(base);
    const Ctx ctx{Device::kCuda, s.get()};
    // (offset, bytes): a byte, a word off a 16-byte boundary, one on it, a run with a head, a
    // body and a tail, and one of 16-byte stores from several blocks
    const std::vector<std::pair<std::size_t, std::size_t>> cleared = {
        {3, 1}, {5, 4}, {32, 4}, {101, 3001}, {4096, 1 << 20}};
    const std::size_t total = 4096 + (1 << 20) + 64;
    std::vector<unsigned char> start(total);
    for (std::size_t i = 0; i < total; ++i) {
        start[i] = static_cast<unsigned char>(1 + (i * 131 + 7) % 255);  // never 0
    }
    BackendBuffer buf(ctx, total), seen(ctx, total);
    auto* b = static_cast<unsigned char*>(buf.data());
    StreamGraph graph;
    graph.capture(ctx, [&] {
        for (const auto& [at, n] : cleared) {
            buffer_zero(ctx, b + at, n);
        }
        buffer_copy(ctx, seen.data(), buf.data(), total);  // must see the cleared bytes
    });
    ASSERT_TRUE(graph.captured());
    EXPECT_EQ(graph.memsets_as_kernels(), static_cast<int>(cleared.size()));

    std::vector<unsigned char> want = start;
    for (const auto& [at, n] : cleared) {
        std::fill_n(want.begin() + static_cast<std::ptrdiff_t>(at), n, 0);
    }
    std::vector<unsigned char> got(total);
    for (int run = 0; run < 2; ++run) {  // the second launch clears the bytes set again
        buffer_upload(ctx, buf.data(), start.data(), total);
        graph.launch(ctx);
        stream_synchronize(ctx);
        for (void* where : {buf.data(), seen.data()}) {
            buffer_download(ctx, got.data(), where, total);
            for (std::size_t i = 0; i < total; ++i) {
                ASSERT_EQ(got[i], want[i]) << "byte " << i << " run " << run;
            }
        }
    }
}

}  // namespace
}  // namespace qforge::kernels
