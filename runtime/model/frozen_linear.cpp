// What is here: FrozenLinear (see frozen_linear.h).
#include "runtime/model/frozen_linear.h"

namespace qforge {

FrozenLinear FrozenLinear::dense(const Tensor& weight) {
    QF_CHECK(weight.ndim() == 2, "a linear weight must be 2-D, got {}", weight.shape_str());
    FrozenLinear f;
    f.rows_ = weight.dim(0);
    f.cols_ = weight.dim(1);
    f.dense_ = weight.to_f32();
    return f;
}

FrozenLinear FrozenLinear::quantized(const Tensor& weight) {
    QF_CHECK(weight.ndim() == 2, "a linear weight must be 2-D, got {}", weight.shape_str());
    return from_nf4(Nf4Weight::quantize(weight));
}

FrozenLinear FrozenLinear::from_nf4(Nf4Weight weight) {
    FrozenLinear f;
    f.rows_ = weight.rows();
    f.cols_ = weight.cols();
    f.nf4_ = std::move(weight);
    return f;
}

const float* FrozenLinear::weights(std::vector<float>& scratch) const {
    if (!nf4_) {
        return dense_.data<float>();
    }
    scratch.resize(static_cast<std::size_t>(rows_ * cols_));
    nf4_->dequantize(scratch.data());
    return scratch.data();
}

std::size_t FrozenLinear::storage_bytes() const {
    return nf4_ ? nf4_->storage_bytes() : dense_.nbytes();
}

}  // namespace qforge
