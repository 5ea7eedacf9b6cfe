// What is here: the learning-rate schedule: linear warmup from 0, then cosine, linear or
// constant decay to min_lr_ratio * lr at the last step (transformers' get_*_schedule_with_warmup).
#pragma once

#include <cstdint>
#include <string>

namespace qforge::train {

enum class Schedule { kCosine, kLinear, kConstant };

Schedule schedule_from_string(const std::string& name);

// lr for optimizer step `step` (0-based) of `total` steps.
float lr_at(Schedule schedule, float peak_lr, int64_t step, int64_t total, int64_t warmup,
            float min_lr_ratio);

}  // namespace qforge::train
