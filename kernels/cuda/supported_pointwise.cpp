// What is here: the ops of kernels/cuda/pointwise.h that have a CUDA kernel in this build.
#include "kernels/cuda/pointwise.h"
#include "kernels/registry.h"

namespace qforge::kernels::cuda {

bool supports_pointwise(Op op) {
    switch (op) {
        case Op::kEmbeddingForward:
        case Op::kEmbeddingBackward:
        case Op::kRmsnormForward:
        case Op::kRmsnormBackward:
        case Op::kSwigluForward:
        case Op::kSwigluBackward:
        case Op::kRopeForward:
        case Op::kRopeBackward:
        case Op::kCrossEntropyForward:
        case Op::kCrossEntropyBackward:
        case Op::kNf4Dequantize:
        case Op::kNf4QuantizeDevice:
        case Op::kAdamwUpdate:
        case Op::kSumOfSquares:
        case Op::kDropoutForward:
        case Op::kDropoutBackward:
        case Op::kLayernormForward:
        case Op::kLayernormBackward:
        case Op::kGeluForward:
        case Op::kGeluBackward:
        case Op::kRandomNormal:
        case Op::kConvertToBf16:
        case Op::kConvertToBf16Batch:
        case Op::kNf4DequantizeBf16:
        case Op::kSwigluForwardBf16:
        case Op::kSwigluBackwardBf16:
        case Op::kRmsnormForwardBf16:
        case Op::kConvertFromBf16:
        case Op::kRopeForwardBf16:
        case Op::kRopeBackwardToBf16:
            return true;
        default:
            return false;
    }
}

}  // namespace qforge::kernels::cuda
