// What is here: the ops of kernels/cuda/dense.h that have a CUDA kernel in this build.
#include "kernels/cuda/dense.h"
#include "kernels/registry.h"

namespace qforge::kernels::cuda {

bool supports_dense(Op op) {
    switch (op) {
        case Op::kGemm:
        case Op::kGemmBf16:
        case Op::kGemmBf16ToBf16:
        case Op::kLinearForward:
        case Op::kLinearBackward:
        case Op::kAttentionForward:
        case Op::kAttentionBackward:
        case Op::kAttentionForwardBf16:
        case Op::kAttentionBackwardBf16:
        case Op::kLoraDyProducts:
            return true;
        default:
            return false;
    }
}

}  // namespace qforge::kernels::cuda
