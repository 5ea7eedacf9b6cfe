// What is here: op names, the per-backend support table, and cuda_available() (the only place
// besides memory.cpp that asks the CUDA runtime anything; headers stay CUDA-free).
#include "kernels/registry.h"

#include <array>

#ifdef QFORGE_HAS_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/dense.h"
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

namespace {

constexpr std::array kAllOps = {
    Op::kEmbeddingForward,
    Op::kEmbeddingBackward,
    Op::kRmsnormForward,
    Op::kRmsnormBackward,
    Op::kGemm,
    Op::kLinearForward,
    Op::kLinearBackward,
    Op::kSwigluForward,
    Op::kSwigluBackward,
    Op::kRopeForward,
    Op::kRopeBackward,
    Op::kAttentionForward,
    Op::kAttentionBackward,
    Op::kAttentionForwardBf16,
    Op::kAttentionBackwardBf16,
    Op::kCrossEntropyForward,
    Op::kCrossEntropyBackward,
    Op::kNf4Dequantize,
    Op::kAdamwUpdate,
    Op::kSumOfSquares,
    Op::kDropoutForward,
    Op::kDropoutBackward,
    Op::kLayernormForward,
    Op::kLayernormBackward,
    Op::kGeluForward,
    Op::kGeluBackward,
    Op::kNf4QuantizeDevice,
    Op::kRandomNormal,
    Op::kConvertToBf16,
    Op::kNf4DequantizeBf16,
    Op::kGemmBf16,
    Op::kSwigluForwardBf16,
    Op::kSwigluBackwardBf16,
    Op::kRmsnormForwardBf16,
    Op::kConvertFromBf16,
    Op::kGemmBf16ToBf16,
    Op::kRopeForwardBf16,
    Op::kRopeBackwardToBf16,
    Op::kConvertToBf16Batch,
    Op::kLoraDyProducts,
};
static_assert(kAllOps.size() == static_cast<size_t>(Op::kLoraDyProducts) + 1,
              "kAllOps must list every Op (keep the enum's last value here)");

#ifdef QFORGE_HAS_CUDA
// Ops the CUDA backend implements: each list lives beside its kernels
// (kernels/cuda/supported_*.cu).
bool cuda_supports(Op op) {
    return cuda::supports_pointwise(op) || cuda::supports_dense(op);
}
#endif

}  // namespace

std::string_view op_name(Op op) {
    switch (op) {
        case Op::kEmbeddingForward:
            return "embedding_forward";
        case Op::kEmbeddingBackward:
            return "embedding_backward";
        case Op::kRmsnormForward:
            return "rmsnorm_forward";
        case Op::kRmsnormBackward:
            return "rmsnorm_backward";
        case Op::kGemm:
            return "gemm";
        case Op::kLinearForward:
            return "linear_forward";
        case Op::kLinearBackward:
            return "linear_backward";
        case Op::kSwigluForward:
            return "swiglu_forward";
        case Op::kSwigluBackward:
            return "swiglu_backward";
        case Op::kRopeForward:
            return "rope_forward";
        case Op::kRopeBackward:
            return "rope_backward";
        case Op::kAttentionForward:
            return "attention_forward";
        case Op::kAttentionBackward:
            return "attention_backward";
        case Op::kAttentionForwardBf16:
            return "attention_forward_bf16";
        case Op::kAttentionBackwardBf16:
            return "attention_backward_bf16";
        case Op::kCrossEntropyForward:
            return "cross_entropy_forward";
        case Op::kCrossEntropyBackward:
            return "cross_entropy_backward";
        case Op::kNf4Dequantize:
            return "nf4_dequantize";
        case Op::kAdamwUpdate:
            return "adamw_update";
        case Op::kSumOfSquares:
            return "sum_of_squares";
        case Op::kDropoutForward:
            return "dropout_forward";
        case Op::kDropoutBackward:
            return "dropout_backward";
        case Op::kLayernormForward:
            return "layernorm_forward";
        case Op::kLayernormBackward:
            return "layernorm_backward";
        case Op::kGeluForward:
            return "gelu_forward";
        case Op::kGeluBackward:
            return "gelu_backward";
        case Op::kNf4QuantizeDevice:
            return "nf4_quantize_device";
        case Op::kRandomNormal:
            return "random_normal";
        case Op::kConvertToBf16:
            return "convert_to_bf16";
        case Op::kConvertToBf16Batch:
            return "convert_to_bf16_batch";
        case Op::kLoraDyProducts:
            return "lora_dy_products";
        case Op::kNf4DequantizeBf16:
            return "nf4_dequantize_bf16";
        case Op::kGemmBf16:
            return "gemm_bf16";
        case Op::kSwigluForwardBf16:
            return "swiglu_forward_bf16";
        case Op::kSwigluBackwardBf16:
            return "swiglu_backward_bf16";
        case Op::kRmsnormForwardBf16:
            return "rmsnorm_forward_bf16";
        case Op::kConvertFromBf16:
            return "convert_from_bf16";
        case Op::kGemmBf16ToBf16:
            return "gemm_bf16_to_bf16";
        case Op::kRopeForwardBf16:
            return "rope_forward_bf16";
        case Op::kRopeBackwardToBf16:
            return "rope_backward_to_bf16";
    }
    QF_FAIL("op_name: unknown Op value {}", static_cast<int>(op));
}

std::span<const Op> all_ops() {
    return kAllOps;
}

bool op_supported(Op op, Device device) {
    switch (device) {
        case Device::kCpu:
            return true;
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda_supports(op);
#else
            (void)op;
            return false;
#endif
    }
    return false;
}

void throw_unsupported(Op op, Device device) {
    if (device == Device::kCuda) {
        QF_FAIL("{}: the CUDA backend does not implement this op yet (run it on Device::kCpu)",
                op_name(op));
    }
    QF_FAIL("{}: the {} backend does not implement this op", op_name(op), device_name(device));
}

bool cuda_available() {
#ifdef QFORGE_HAS_CUDA
    // Probed once: the answer cannot change while the process runs.
    static const bool available = [] {
        int count = 0;
        const cudaError_t err = cudaGetDeviceCount(&count);
        if (err != cudaSuccess) {
            (void)cudaGetLastError();  // clear the sticky "no device"/"no driver" error
            return false;
        }
        return count > 0;
    }();
    return available;
#else
    return false;
#endif
}

}  // namespace qforge::kernels
