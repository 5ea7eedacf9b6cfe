// What is here: tests of qforge::Tensor: allocation, typed access, views, slices, copies and
// dtype widening, each checked element by element against index arithmetic.
#include <cstdint>
#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

#include "runtime/tensor/half.h"
#include "runtime/tensor/tensor.h"
#include "support/test_support.h"

namespace qforge {
namespace {

using ::testing::HasSubstr;

// A 3-d f32 tensor filled with random values (never zeros).
Tensor random_tensor(std::vector<int64_t> shape) {
    Tensor t = Tensor::empty(std::move(shape), DType::kF32);
    const std::vector<float> v =
        test::random_floats(static_cast<std::size_t>(t.numel()), 0.5f, 2.0f);
    std::memcpy(t.data<float>(), v.data(), t.nbytes());
    return t;
}

TEST(Tensor, DefaultIsUndefinedAndEmpty) {
    Tensor t;
    EXPECT_FALSE(t.defined());
    EXPECT_EQ(t.numel(), 0);
    EXPECT_EQ(t.nbytes(), 0u);
    EXPECT_EQ(t.ndim(), 0);
}

TEST(Tensor, EmptyIsAlignedContiguousWithRowMajorStrides) {
    for (DType dt : {DType::kF32, DType::kBF16, DType::kF16, DType::kU8, DType::kI32}) {
        Tensor t = Tensor::empty({3, 5, 7}, dt);
        EXPECT_TRUE(t.defined());
        EXPECT_EQ(t.numel(), 105);
        EXPECT_EQ(t.nbytes(), 105 * kernels::dtype_size(dt));
        EXPECT_EQ(t.strides(), (std::vector<int64_t>{35, 7, 1}));
        EXPECT_TRUE(t.is_contiguous());
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64, 0u);
        EXPECT_EQ(t.dtype(), dt);
        EXPECT_EQ(t.device(), Device::kCpu);
    }
}

TEST(Tensor, ZeroDimAndZeroSizeTensors) {
    Tensor scalar = Tensor::zeros({}, DType::kF32);
    EXPECT_TRUE(scalar.defined());
    EXPECT_EQ(scalar.numel(), 1);
    EXPECT_EQ(scalar.data<float>()[0], 0.0f);
    Tensor none = Tensor::empty({4, 0}, DType::kF32);
    EXPECT_TRUE(none.defined());
    EXPECT_EQ(none.numel(), 0);
    EXPECT_EQ(none.clone().numel(), 0);
}

TEST(Tensor, ZerosAreZero) {
    Tensor t = Tensor::zeros({17, 3}, DType::kI32);
    for (int64_t i = 0; i < t.numel(); ++i) {
        ASSERT_EQ(t.data<int32_t>()[i], 0);
    }
}

TEST(Tensor, BadShapesAndDevicesAreRejected) {
    EXPECT_THROW(Tensor::empty({2, -3}, DType::kF32), Error);
    EXPECT_THROW(Tensor::empty({int64_t{1} << 40, int64_t{1} << 40}, DType::kF32), Error);
    try {
        Tensor::empty({2}, DType::kF32, Device::kCuda);
        FAIL() << "CUDA allocation should be rejected";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("cuda"));
    }
}

TEST(Tensor, DimCountsFromTheEndAndChecksRange) {
    Tensor t = Tensor::empty({2, 3, 4}, DType::kF32);
    EXPECT_EQ(t.dim(0), 2);
    EXPECT_EQ(t.dim(-1), 4);
    EXPECT_EQ(t.dim(-3), 2);
    EXPECT_THROW(t.dim(3), Error);
    EXPECT_THROW(t.dim(-4), Error);
}

TEST(Tensor, DataTypeMustMatchDType) {
    Tensor f = Tensor::empty({2}, DType::kF32);
    EXPECT_NO_THROW(f.data<float>());
    EXPECT_THROW(f.data<int32_t>(), Error);
    EXPECT_THROW(f.data<uint16_t>(), Error);
    Tensor b = Tensor::empty({2}, DType::kBF16);
    Tensor h = Tensor::empty({2}, DType::kF16);
    EXPECT_NO_THROW(b.data<uint16_t>());
    EXPECT_NO_THROW(h.data<uint16_t>());
    EXPECT_THROW(b.data<float>(), Error);
    const Tensor u = Tensor::empty({2}, DType::kU8);
    EXPECT_NO_THROW(u.data<uint8_t>());
    EXPECT_THROW(u.data<float>(), Error);
    const Tensor i = Tensor::empty({2}, DType::kI32);
    EXPECT_NO_THROW(i.data<int32_t>());
}

TEST(Tensor, FromBlobKeepsTheOwnerAlive) {
    auto owner = std::make_shared<std::vector<float>>(test::random_floats(12));
    std::weak_ptr<std::vector<float>> watch = owner;
    const std::vector<float> expect = *owner;
    Tensor t = Tensor::from_blob(owner->data(), {3, 4}, DType::kF32, owner);
    owner.reset();
    ASSERT_FALSE(watch.expired());
    for (int64_t i = 0; i < 12; ++i) {
        EXPECT_EQ(t.data<float>()[i], expect[static_cast<std::size_t>(i)]);
    }
    Tensor v = t.slice(0, 1, 2);
    t = Tensor();
    EXPECT_FALSE(watch.expired());  // the slice still holds it
    v = Tensor();
    EXPECT_TRUE(watch.expired());
}

TEST(Tensor, ViewSharesMemoryAndInfersOneDim) {
    Tensor t = random_tensor({4, 6});
    Tensor v = t.view({3, -1, 2});
    EXPECT_EQ(v.shape(), (std::vector<int64_t>{3, 4, 2}));
    EXPECT_EQ(v.raw_data(), t.raw_data());
    v.data<float>()[5] = 42.0f;
    EXPECT_EQ(t.data<float>()[5], 42.0f);
    EXPECT_THROW(t.view({5, -1}), Error);
    EXPECT_THROW(t.view({-1, -1}), Error);
    EXPECT_THROW(t.view({4, 5}), Error);
    EXPECT_THROW(t.slice(1, 1, 3).view({8}), Error);  // not contiguous
}

TEST(Tensor, SliceIsAStridedView) {
    Tensor t = random_tensor({5, 7, 3});
    const float* base = t.data<float>();
    Tensor s = t.slice(1, 2, 6);
    EXPECT_EQ(s.shape(), (std::vector<int64_t>{5, 4, 3}));
    EXPECT_EQ(s.strides(), t.strides());
    EXPECT_FALSE(s.is_contiguous());
    Tensor s2 = s.slice(-1, 1, 2);
    for (int64_t i = 0; i < 5; ++i) {
        for (int64_t j = 0; j < 4; ++j) {
            const float* p = s2.data<float>() + i * s2.strides()[0] + j * s2.strides()[1];
            EXPECT_EQ(*p, base[i * 21 + (j + 2) * 3 + 1]);
        }
    }
    EXPECT_TRUE(t.slice(0, 1, 3).is_contiguous());  // leading-dim slices stay contiguous
    EXPECT_THROW(t.slice(1, 3, 2), Error);
    EXPECT_THROW(t.slice(1, 0, 8), Error);
    EXPECT_THROW(t.slice(3, 0, 1), Error);
}

TEST(Tensor, ContiguousCopiesOnlyWhenNeeded) {
    Tensor t = random_tensor({6, 9});
    EXPECT_EQ(t.contiguous().raw_data(), t.raw_data());
    Tensor s = t.slice(1, 3, 8);
    Tensor c = s.contiguous();
    EXPECT_NE(c.raw_data(), t.raw_data());
    EXPECT_TRUE(c.is_contiguous());
    for (int64_t i = 0; i < 6; ++i) {
        for (int64_t j = 0; j < 5; ++j) {
            EXPECT_EQ(c.data<float>()[i * 5 + j], t.data<float>()[i * 9 + j + 3]);
        }
    }
}

TEST(Tensor, CloneIsADeepCopy) {
    Tensor t = random_tensor({3, 4});
    Tensor c = t.clone();
    EXPECT_NE(c.raw_data(), t.raw_data());
    EXPECT_EQ(std::memcmp(c.raw_data(), t.raw_data(), t.nbytes()), 0);
    c.data<float>()[0] += 1.0f;
    EXPECT_NE(c.data<float>()[0], t.data<float>()[0]);
}

TEST(Tensor, ToF32WidensBf16AndF16Exactly) {
    const std::vector<float> v = test::random_floats(60, -3.0f, 3.0f);
    Tensor b = Tensor::empty({6, 10}, DType::kBF16);
    Tensor h = Tensor::empty({6, 10}, DType::kF16);
    for (std::size_t i = 0; i < v.size(); ++i) {
        b.data<uint16_t>()[i] = f32_to_bf16(v[i]);
        h.data<uint16_t>()[i] = f32_to_f16(v[i]);
    }
    // Through a non-contiguous slice, so strided reads are exercised too.
    Tensor bf = b.slice(1, 2, 9).to_f32();
    Tensor hf = h.slice(1, 2, 9).to_f32();
    ASSERT_EQ(bf.shape(), (std::vector<int64_t>{6, 7}));
    for (int64_t i = 0; i < 6; ++i) {
        for (int64_t j = 0; j < 7; ++j) {
            const auto k = static_cast<std::size_t>(i * 10 + j + 2);
            EXPECT_EQ(bf.data<float>()[i * 7 + j], bf16_to_f32(b.data<uint16_t>()[k]));
            EXPECT_EQ(hf.data<float>()[i * 7 + j], f16_to_f32(h.data<uint16_t>()[k]));
            EXPECT_NEAR(bf.data<float>()[i * 7 + j], v[k], 3.0f / 256);
            EXPECT_NEAR(hf.data<float>()[i * 7 + j], v[k], 3.0f / 2048);
        }
    }
    Tensor f = random_tensor({2, 3});
    Tensor f2 = f.to_f32();
    EXPECT_NE(f2.raw_data(), f.raw_data());
    EXPECT_EQ(std::memcmp(f2.raw_data(), f.raw_data(), f.nbytes()), 0);
    EXPECT_THROW(Tensor::empty({2}, DType::kI32).to_f32(), Error);
}

TEST(Tensor, FillHonoursStridesAndDType) {
    Tensor t = random_tensor({4, 5});
    const float keep = t.data<float>()[0];
    t.slice(1, 1, 3).fill(7.5f);
    for (int64_t i = 0; i < 4; ++i) {
        for (int64_t j = 0; j < 5; ++j) {
            const float x = t.data<float>()[i * 5 + j];
            if (j == 1 || j == 2) {
                EXPECT_EQ(x, 7.5f);
            } else {
                EXPECT_NE(x, 7.5f);
            }
        }
    }
    EXPECT_EQ(t.data<float>()[0], keep);
    Tensor b = Tensor::empty({2}, DType::kBF16);
    EXPECT_THROW(b.fill(1.0f), Error);
}

TEST(Tensor, ShapeStrAndCheckShape) {
    Tensor t = Tensor::empty({2, 3}, DType::kF32);
    EXPECT_EQ(t.shape_str(), "[2, 3]");
    EXPECT_EQ(Tensor::empty({}, DType::kF32).shape_str(), "[]");
    EXPECT_NO_THROW(t.check_shape({2, 3}, "w"));
    try {
        t.check_shape({3, 2}, "layer0.q_proj");
        FAIL() << "mismatch not reported";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("layer0.q_proj: expected shape [3, 2], got [2, 3]"));
    }
}

}  // namespace
}  // namespace qforge
