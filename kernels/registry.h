// What is here: the list of ops (enum Op), their names, and which backend implements which op
// (op_supported, in the spirit of ggml's supports_op), so tests skip and the runtime never guesses.
#pragma once

#include <span>
#include <string_view>

#include "kernels/common.h"

namespace qforge::kernels {

// Every op of kernels/, forward and backward listed separately. Adding an op: add it here,
// to op_name/kAllOps in registry.cpp, and one OpCase in tests/kernels/backend_op_cases*.cpp.
// Host-side helpers without a Ctx (nf4_quantize, rope_tables, ...) are not ops.
enum class Op {
    kEmbeddingForward,
    kEmbeddingBackward,
    kRmsnormForward,
    kRmsnormBackward,
    kGemm,
    kLinearForward,
    kLinearBackward,
    kSwigluForward,
    kSwigluBackward,
    kRopeForward,
    kRopeBackward,
    kAttentionForward,
    kAttentionBackward,
    kAttentionForwardBf16,
    kAttentionBackwardBf16,
    kCrossEntropyForward,
    kCrossEntropyBackward,
    kNf4Dequantize,
    kAdamwUpdate,
    kSumOfSquares,
    kDropoutForward,
    kDropoutBackward,
    kLayernormForward,
    kLayernormBackward,
    kGeluForward,
    kGeluBackward,
    kNf4QuantizeDevice,
    kRandomNormal,
    kConvertToBf16,
    kNf4DequantizeBf16,
    kGemmBf16,
    kSwigluForwardBf16,
    kSwigluBackwardBf16,
    kRmsnormForwardBf16,
    kConvertFromBf16,
    kGemmBf16ToBf16,
    kRopeForwardBf16,
    kRopeBackwardToBf16,
    kConvertToBf16Batch,
    kLoraDyProducts,
};

// The op's function name, e.g. "rmsnorm_forward".
std::string_view op_name(Op op);

// Every Op, in declaration order.
std::span<const Op> all_ops();

// True when `device`'s backend in this build implements `op` (the CPU backend implements all).
bool op_supported(Op op, Device device);

// Thrown by an op's dispatcher when the backend of `device` lacks the op.
[[noreturn]] void throw_unsupported(Op op, Device device);

}  // namespace qforge::kernels
