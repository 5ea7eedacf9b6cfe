// What is here: sentence pooling of encoder hidden states (mean over real tokens, or [CLS]) and
// L2 normalization, as sentence-transformers does it.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/tensor/tensor.h"

namespace qforge {

enum class Pooling { kMean, kCls };

// hidden (B,T,H) f32; mask (B*T) 1 for a real token, 0 for padding. Mean pooling averages the
// rows whose mask is 1 (a row of all padding gives zeros); kCls takes position 0. With
// normalize, each vector is divided by max(||v||, 1e-12) (torch.nn.functional.normalize).
std::vector<std::vector<float>> pool_hidden_states(const Tensor& hidden, const int32_t* mask,
                                                   Pooling pooling, bool normalize);

}  // namespace qforge
