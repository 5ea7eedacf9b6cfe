// What is here: softmax cross-entropy over the vocabulary, per row, with an ignore_index.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// logits (N,V); targets (N). losses (N): logsumexp(logits row) - logits[target]; a row whose
// target == ignore_index gets loss 0. lse (N) is saved for backward and may be nullptr.
// Throws qforge::Error when a target is neither ignore_index nor in [0,V) (on CUDA the targets
// are checked on the device and the call waits for the stream, unless the caller checked them:
// IndexCheck::kCheckedByCaller, where a bad target's loss is NaN).
void cross_entropy_forward(const Ctx& ctx, float* losses, float* lse, const float* logits,
                           const int32_t* targets, int64_t N, int64_t V,
                           int32_t ignore_index = -100, IndexCheck check = IndexCheck::kWait);

// dlogits (N,V) = (softmax(logits) - onehot(target)) * dloss[row]. WRITES (it starts the
// backward chain); ignored rows get 0. lse from the forward, or nullptr to recompute it.
// dlogits may alias logits (the gradient overwrites the logits in place).
void cross_entropy_backward(const Ctx& ctx, float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, const float* dloss, int64_t N, int64_t V,
                            int32_t ignore_index = -100);

// cross_entropy_backward with each gradient rounded to bf16 (RNE) into rows of stride ld >= V
// (columns past V left as they are); dlogits must not overlap logits. For a gradient that is only
// read as a bf16 GEMM operand (the LM head's backward), without an fp32 copy to round later.
void cross_entropy_backward_bf16(const Ctx& ctx, uint16_t* dlogits, int64_t ld, const float* logits,
                                 const float* lse, const int32_t* targets, const float* dloss,
                                 int64_t N, int64_t V, int32_t ignore_index = -100);

}  // namespace qforge::kernels
