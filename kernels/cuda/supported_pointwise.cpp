// What is here: the ops of kernels/cuda/pointwise.h that have a CUDA kernel in this build.
#include "kernels/cuda/pointwise.h"
#include "kernels/registry.h"

namespace qforge::kernels::cuda {

bool supports_pointwise(Op op) {
    switch (op) {
        default:
            return false;
    }
}

}  // namespace qforge::kernels::cuda
