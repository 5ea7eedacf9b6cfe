// What is here: qforge::Tensor, an n-d strided view over shared host memory (owned, or borrowed
// from an mmap and kept alive by a keepalive pointer), with the few host-side helpers the
// loaders and tests need (view, slice, contiguous copy, f32 widening).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kernels/common.h"

namespace qforge {

using kernels::Device;
using kernels::DType;

class Tensor {
public:
    Tensor() = default;  // empty: numel 0, !defined()

    // Uninitialised host memory, 64-byte aligned. Device::kCuda is rejected for now.
    static Tensor empty(std::vector<int64_t> shape, DType dtype, Device device = Device::kCpu);
    static Tensor zeros(std::vector<int64_t> shape, DType dtype, Device device = Device::kCpu);
    // A contiguous view over memory owned elsewhere (an mmap, a buffer); `keepalive` is held
    // for as long as any view of it lives.
    static Tensor from_blob(void* data, std::vector<int64_t> shape, DType dtype,
                            std::shared_ptr<void> keepalive);

    bool defined() const { return data_ != nullptr; }

    const std::vector<int64_t>& shape() const { return shape_; }

    const std::vector<int64_t>& strides() const { return strides_; }  // in elements

    int ndim() const { return static_cast<int>(shape_.size()); }

    int64_t dim(int i) const;  // negative i counts from the end

    int64_t numel() const;
    std::size_t nbytes() const;

    DType dtype() const { return dtype_; }

    Device device() const { return device_; }

    bool is_contiguous() const;

    // Typed access; T must match the dtype (float: f32, int32_t: i32, uint8_t: u8,
    // uint16_t: bf16 or f16).
    template <class T>
    T* data() {
        check_element_type<T>();
        return static_cast<T*>(data_);
    }

    template <class T>
    const T* data() const {
        check_element_type<T>();
        return static_cast<const T*>(data_);
    }

    void* raw_data() { return data_; }

    const void* raw_data() const { return data_; }

    Tensor view(std::vector<int64_t> shape) const;            // contiguous only; one -1 allowed
    Tensor slice(int dim, int64_t start, int64_t end) const;  // [start, end) along dim, a view
    Tensor contiguous() const;                                // *this if already contiguous
    Tensor to_f32() const;   // new contiguous f32 copy from f32/bf16/f16
    Tensor clone() const;    // new contiguous copy, same dtype
    void fill(float value);  // f32 only; honours strides

    std::string shape_str() const;  // "[2, 3]"
    // Throws "<what>: expected shape [a, b], got [c, d]".
    void check_shape(const std::vector<int64_t>& expected, std::string_view what) const;

private:
    template <class T>
    void check_element_type() const {
        bool ok = false;
        if constexpr (std::is_same_v<std::remove_cv_t<T>, float>) {
            ok = dtype_ == DType::kF32;
        } else if constexpr (std::is_same_v<std::remove_cv_t<T>, int32_t>) {
            ok = dtype_ == DType::kI32;
        } else if constexpr (std::is_same_v<std::remove_cv_t<T>, uint8_t>) {
            ok = dtype_ == DType::kU8;
        } else if constexpr (std::is_same_v<std::remove_cv_t<T>, uint16_t>) {
            ok = dtype_ == DType::kBF16 || dtype_ == DType::kF16;
        } else {
            static_assert(sizeof(T) == 0,
                          "Tensor::data<T>: T must be float, int32_t, "
                          "uint8_t or uint16_t");
        }
        if (!ok) {
            throw_type_mismatch(sizeof(T));
        }
    }

    [[noreturn]] void throw_type_mismatch(std::size_t element_size) const;

    std::vector<int64_t> shape_;
    std::vector<int64_t> strides_;
    DType dtype_ = DType::kF32;
    Device device_ = Device::kCpu;
    void* data_ = nullptr;           // first element of this view
    std::shared_ptr<void> storage_;  // keeps the memory behind data_ alive
};

// Number of elements of a shape; throws on negative sizes or int64 overflow, naming `what`.
int64_t shape_numel(const std::vector<int64_t>& shape, std::string_view what);
std::string shape_to_string(const std::vector<int64_t>& shape);  // "[2, 3]"

}  // namespace qforge
