// What is here: a frozen base projection (HF nn.Linear layout, (out, in)) stored either as
// fp32 or as NF4 (QLoRA). Compute always sees fp32 weights: the NF4 form is dequantized into
// caller-owned scratch right before its GEMM, so the numerics are those of the NF4 storage.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/model/nf4_weight.h"
#include "runtime/tensor/tensor.h"

namespace qforge {

class FrozenLinear {
public:
    FrozenLinear() = default;
    static FrozenLinear dense(const Tensor& weight);      // kept as fp32
    static FrozenLinear quantized(const Tensor& weight);  // quantized to NF4 at load
    static FrozenLinear from_nf4(Nf4Weight weight);       // already NF4 (bitsandbytes checkpoint)

    int64_t rows() const { return rows_; }

    int64_t cols() const { return cols_; }

    bool is_nf4() const { return nf4_.has_value(); }

    // The NF4 storage (nullptr when dense) and the dense fp32 weights (nullptr when NF4).
    const Nf4Weight* nf4() const { return nf4_ ? &*nf4_ : nullptr; }

    const float* dense_data() const { return nf4_ ? nullptr : dense_.data<float>(); }

    // fp32 (rows, cols) weights: the dense tensor, or NF4 dequantized into `scratch`.
    const float* weights(std::vector<float>& scratch) const;
    std::size_t storage_bytes() const;

private:
    int64_t rows_ = 0, cols_ = 0;
    Tensor dense_;
    std::optional<Nf4Weight> nf4_;
};

}  // namespace qforge
