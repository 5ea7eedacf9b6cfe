// What is here: the ops of kernels/cuda/lora_thin.h that have a CUDA kernel in this build.
#include "kernels/cuda/lora_thin.h"
#include "kernels/registry.h"

namespace qforge::kernels::cuda {

bool supports_lora_thin(Op op) {
    return op == Op::kLoraDownBf16 || op == Op::kLoraGradBf16;
}

}  // namespace qforge::kernels::cuda
