// What is here: the host implementation of qforge::Tensor (allocation, views, copies).
#include "runtime/tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "runtime/tensor/half.h"

namespace qforge {

namespace {

constexpr std::size_t kAlignment = 64;

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> strides(shape.size());
    int64_t stride = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[i] = stride;
        stride *= shape[i];
    }
    return strides;
}

// Calls fn(offset) for every element in row-major order, offset in elements from the first.
template <class Fn>
void for_each_offset(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                     Fn&& fn) {
    const std::size_t nd = shape.size();
    for (int64_t size : shape) {
        if (size == 0) {
            return;
        }
    }
    std::vector<int64_t> index(nd, 0);
    int64_t offset = 0;
    while (true) {
        fn(offset);
        std::size_t d = nd;
        while (d > 0) {
            --d;
            if (++index[d] < shape[d]) {
                offset += strides[d];
                break;
            }
            offset -= strides[d] * (shape[d] - 1);
            index[d] = 0;
            if (d == 0) {
                return;
            }
        }
        if (nd == 0) {
            return;  // a 0-d tensor has exactly one element
        }
    }
}

}  // namespace

int64_t shape_numel(const std::vector<int64_t>& shape, std::string_view what) {
    int64_t n = 1;
    for (int64_t size : shape) {
        QF_CHECK(size >= 0, "{}: negative dimension in shape {}", what, shape_to_string(shape));
        QF_CHECK(size == 0 || n <= std::numeric_limits<int64_t>::max() / size,
                 "{}: shape {} has too many elements", what, shape_to_string(shape));
        n *= size;
    }
    return n;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return out + "]";
}

Tensor Tensor::empty(std::vector<int64_t> shape, DType dtype, Device device) {
    QF_CHECK(device == Device::kCpu,
             "Tensor::empty: {} tensors are not supported here; runtime/tensor allocates host "
             "memory only",
             kernels::device_name(device));
    const int64_t n = shape_numel(shape, "Tensor::empty");
    const std::size_t elem = kernels::dtype_size(dtype);
    QF_CHECK(static_cast<uint64_t>(n) <= std::numeric_limits<std::size_t>::max() / elem,
             "Tensor::empty: shape {} is too large", shape_to_string(shape));
    std::size_t bytes = static_cast<std::size_t>(n) * elem;
    // aligned_alloc wants a multiple of the alignment; a 0-byte tensor still gets a pointer.
    bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (bytes == 0) {
        bytes = kAlignment;
    }
    void* p = std::aligned_alloc(kAlignment, bytes);
    QF_CHECK(p != nullptr, "Tensor::empty: out of host memory allocating {} bytes for shape {}",
             bytes, shape_to_string(shape));
    Tensor t;
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    t.dtype_ = dtype;
    t.device_ = device;
    t.data_ = p;
    t.storage_ = std::shared_ptr<void>(p, std::free);
    return t;
}

Tensor Tensor::zeros(std::vector<int64_t> shape, DType dtype, Device device) {
    Tensor t = empty(std::move(shape), dtype, device);
    std::memset(t.data_, 0, t.nbytes());
    return t;
}

Tensor Tensor::from_blob(void* data, std::vector<int64_t> shape, DType dtype,
                         std::shared_ptr<void> keepalive) {
    QF_CHECK(data != nullptr, "Tensor::from_blob: null data pointer for shape {}",
             shape_to_string(shape));
    shape_numel(shape, "Tensor::from_blob");
    Tensor t;
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    t.dtype_ = dtype;
    t.data_ = data;
    t.storage_ = std::move(keepalive);
    return t;
}

int64_t Tensor::dim(int i) const {
    const int nd = ndim();
    QF_CHECK(i >= -nd && i < nd, "Tensor::dim({}): out of range for a {}-d tensor {}", i, nd,
             shape_str());
    return shape_[static_cast<std::size_t>(i < 0 ? i + nd : i)];
}

int64_t Tensor::numel() const {
    if (!defined()) {
        return 0;
    }
    int64_t n = 1;
    for (int64_t size : shape_) {
        n *= size;
    }
    return n;
}

std::size_t Tensor::nbytes() const {
    return static_cast<std::size_t>(numel()) * kernels::dtype_size(dtype_);
}

bool Tensor::is_contiguous() const {
    int64_t expected = 1;
    for (std::size_t i = shape_.size(); i-- > 0;) {
        if (shape_[i] == 1) {
            continue;  // the stride of a size-1 dimension is never used
        }
        if (shape_[i] == 0) {
            return true;
        }
        if (strides_[i] != expected) {
            return false;
        }
        expected *= shape_[i];
    }
    return true;
}

void Tensor::throw_type_mismatch(std::size_t element_size) const {
    QF_FAIL("Tensor::data<T>: a {}-byte element type does not match dtype {} of tensor {}",
            element_size, kernels::dtype_name(dtype_), shape_str());
}

Tensor Tensor::view(std::vector<int64_t> shape) const {
    QF_CHECK(defined(), "Tensor::view: tensor is undefined");
    QF_CHECK(is_contiguous(), "Tensor::view: tensor {} with strides {} is not contiguous",
             shape_str(), shape_to_string(strides_));
    int infer = -1;
    int64_t known = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            QF_CHECK(infer < 0, "Tensor::view: more than one -1 in {}", shape_to_string(shape));
            infer = static_cast<int>(i);
        } else {
            QF_CHECK(shape[i] >= 0, "Tensor::view: bad dimension {} in {}", shape[i],
                     shape_to_string(shape));
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        QF_CHECK(known != 0 && numel() % known == 0,
                 "Tensor::view: cannot view {} ({} elements) as {}", shape_str(), numel(),
                 shape_to_string(shape));
        shape[static_cast<std::size_t>(infer)] = numel() / known;
    }
    QF_CHECK(shape_numel(shape, "Tensor::view") == numel(),
             "Tensor::view: cannot view {} ({} elements) as {}", shape_str(), numel(),
             shape_to_string(shape));
    Tensor t = *this;
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    return t;
}

Tensor Tensor::slice(int d, int64_t start, int64_t end) const {
    QF_CHECK(defined(), "Tensor::slice: tensor is undefined");
    const int nd = ndim();
    QF_CHECK(d >= -nd && d < nd, "Tensor::slice: dim {} out of range for a {}-d tensor {}", d, nd,
             shape_str());
    const auto k = static_cast<std::size_t>(d < 0 ? d + nd : d);
    QF_CHECK(0 <= start && start <= end && end <= shape_[k],
             "Tensor::slice: range [{}, {}) out of bounds for dim {} of size {} in {}", start, end,
             d, shape_[k], shape_str());
    Tensor t = *this;
    t.shape_[k] = end - start;
    t.data_ = static_cast<char*>(data_) +
              start * strides_[k] * static_cast<int64_t>(kernels::dtype_size(dtype_));
    return t;
}

Tensor Tensor::contiguous() const {
    if (!defined() || is_contiguous()) {
        return *this;
    }
    return clone();
}

Tensor Tensor::clone() const {
    QF_CHECK(defined(), "Tensor::clone: tensor is undefined");
    Tensor out = empty(shape_, dtype_, device_);
    const std::size_t elem = kernels::dtype_size(dtype_);
    if (is_contiguous()) {
        std::memcpy(out.data_, data_, nbytes());
        return out;
    }
    const auto* src = static_cast<const char*>(data_);
    auto* dst = static_cast<char*>(out.data_);
    for_each_offset(shape_, strides_, [&](int64_t offset) {
        std::memcpy(dst, src + offset * static_cast<int64_t>(elem), elem);
        dst += elem;
    });
    return out;
}

Tensor Tensor::to_f32() const {
    QF_CHECK(defined(), "Tensor::to_f32: tensor is undefined");
    QF_CHECK(dtype_ == DType::kF32 || dtype_ == DType::kBF16 || dtype_ == DType::kF16,
             "Tensor::to_f32: cannot convert a {} tensor {} (expected f32, bf16 or f16)",
             kernels::dtype_name(dtype_), shape_str());
    Tensor out = empty(shape_, DType::kF32, device_);
    float* dst = out.data<float>();
    if (dtype_ == DType::kF32) {
        const auto* src = static_cast<const float*>(data_);
        for_each_offset(shape_, strides_, [&](int64_t offset) { *dst++ = src[offset]; });
    } else {
        const auto* src = static_cast<const uint16_t*>(data_);
        const bool bf16 = dtype_ == DType::kBF16;
        for_each_offset(shape_, strides_, [&](int64_t offset) {
            *dst++ = bf16 ? bf16_to_f32(src[offset]) : f16_to_f32(src[offset]);
        });
    }
    return out;
}

void Tensor::fill(float value) {
    QF_CHECK(defined(), "Tensor::fill: tensor is undefined");
    QF_CHECK(dtype_ == DType::kF32, "Tensor::fill: expected an f32 tensor, got {} {}",
             kernels::dtype_name(dtype_), shape_str());
    auto* dst = static_cast<float*>(data_);
    for_each_offset(shape_, strides_, [&](int64_t offset) { dst[offset] = value; });
}

std::string Tensor::shape_str() const {
    return shape_to_string(shape_);
}

void Tensor::check_shape(const std::vector<int64_t>& expected, std::string_view what) const {
    QF_CHECK(defined() && shape_ == expected, "{}: expected shape {}, got {}", what,
             shape_to_string(expected),
             defined() ? shape_str() : std::string("an undefined tensor"));
}

}  // namespace qforge
