// What is here: the op registry (names, all_ops, per-backend support), the CUDA dispatch refusal
// in a build without CUDA kernels, and backend buffers (host always, device when present).
#include <functional>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kernels/gelu.h"
#include "kernels/kernel_test_util.h"
#include "kernels/layernorm.h"
#include "kernels/memory.h"
#include "kernels/registry.h"
#include "kernels/swiglu.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::Device;
using kernels::Op;

TEST(Registry, EveryOpHasAUniqueName) {
    std::set<std::string> names;
    for (const Op op : kernels::all_ops()) {
        const std::string name(kernels::op_name(op));
        EXPECT_FALSE(name.empty());
        EXPECT_TRUE(names.insert(name).second) << "duplicate op name " << name;
    }
    EXPECT_EQ(names.size(), kernels::all_ops().size());
    EXPECT_TRUE(names.count("attention_backward"));
    EXPECT_TRUE(names.count("cross_entropy_forward"));
}

TEST(Registry, CpuSupportsEveryOp) {
    for (const Op op : kernels::all_ops()) {
        EXPECT_TRUE(kernels::op_supported(op, Device::kCpu)) << kernels::op_name(op);
    }
}

TEST(Registry, UnsupportedCudaOpThrowsNamingTheOp) {
    if (kernels::op_supported(Op::kSwigluForward, Device::kCuda)) {
        GTEST_SKIP() << "the CUDA backend implements swiglu_forward";
    }
    // The dispatcher refuses before touching any pointer, so host buffers are fine here.
    std::vector<float> x(8, 0.5f);
    const kernels::Ctx cuda{Device::kCuda, nullptr};
    expect_error([&] { kernels::swiglu_forward(cuda, x.data(), x.data(), x.data(), 8); },
                 {"swiglu_forward", "CUDA backend does not implement"});
}

TEST(Registry, EncoderOpsRefuseCudaNamingTheOp) {
    // layernorm and gelu joined the registry after their dispatchers existed: each must refuse
    // through throw_unsupported under its own name, not a generic message.
    const kernels::Ctx cuda{Device::kCuda, nullptr};
    std::vector<float> x(66, 0.5f), w(33, 1.0f), stat(2, 1.0f);
    const std::vector<std::pair<Op, std::function<void()>>> calls = {
        {Op::kLayernormForward,
         [&] {
             kernels::layernorm_forward(cuda, x.data(), stat.data(), stat.data(), x.data(),
                                        w.data(), w.data(), 2, 33, 1e-5f);
         }},
        {Op::kLayernormBackward,
         [&] {
             kernels::layernorm_backward(cuda, x.data(), w.data(), w.data(), x.data(), x.data(),
                                         w.data(), stat.data(), stat.data(), 2, 33);
         }},
        {Op::kGeluForward,
         [&] {
             kernels::gelu_forward(cuda, x.data(), x.data(), 66);
         }},
        {Op::kGeluBackward,
         [&] {
             kernels::gelu_backward(cuda, x.data(), x.data(), x.data(), 66);
         }},
    };
    for (const auto& [op, call] : calls) {
        if (kernels::op_supported(op, Device::kCuda)) {
            continue;
        }
        expect_error(call, {std::string(kernels::op_name(op)), "CUDA backend does not implement"});
    }
}

TEST(Registry, CudaAvailabilityIsStable) {
    const bool first = kernels::cuda_available();
    EXPECT_EQ(kernels::cuda_available(), first);
    RecordProperty("cuda_available", first ? "true" : "false");
}

void expect_round_trip(const kernels::Ctx& ctx) {
    const auto host = random_floats(1031, -1, 1, 1);
    kernels::BackendBuffer buf(ctx, host.size() * sizeof(float));
    ASSERT_NE(buf.data(), nullptr);
    kernels::buffer_upload(ctx, buf.data(), host.data(), buf.bytes());
    std::vector<float> back(host.size(), 0.0f);
    kernels::stream_synchronize(ctx);
    kernels::buffer_download(ctx, back.data(), buf.data(), buf.bytes());
    EXPECT_EQ(back, host);
    kernels::BackendBuffer moved = std::move(buf);
    EXPECT_EQ(buf.data(), nullptr);
    EXPECT_NE(moved.data(), nullptr);
}

TEST(BackendBuffer, HostRoundTrip) {
    expect_round_trip(kCpuCtx);
}

TEST(BackendBuffer, DeviceRoundTrip) {
    if (!kernels::cuda_available()) {
        GTEST_SKIP() << "no GPU present";
    }
    expect_round_trip(kernels::Ctx{Device::kCuda, nullptr});
}

}  // namespace
}  // namespace qforge::test
