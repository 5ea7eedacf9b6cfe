// What is here: lr_at (see schedule.h). Matches transformers: during warmup lr * step/warmup;
// after it, progress p = (step - warmup) / (total - warmup) and
//   cosine: min + (1 - min) * 0.5 * (1 + cos(pi p)),  linear: min + (1 - min) * (1 - p).
#include "runtime/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/common.h"

namespace qforge::train {

Schedule schedule_from_string(const std::string& name) {
    if (name == "cosine") {
        return Schedule::kCosine;
    }
    if (name == "linear") {
        return Schedule::kLinear;
    }
    if (name == "constant") {
        return Schedule::kConstant;
    }
    QF_FAIL("unknown schedule \"{}\" (expected cosine, linear or constant)", name);
}

float lr_at(Schedule schedule, float peak_lr, int64_t step, int64_t total, int64_t warmup,
            float min_lr_ratio) {
    if (step < warmup) {
        return peak_lr * static_cast<float>(step) /
               static_cast<float>(std::max<int64_t>(1, warmup));
    }
    if (schedule == Schedule::kConstant) {
        return peak_lr;
    }
    const double p = std::clamp(static_cast<double>(step - warmup) /
                                    static_cast<double>(std::max<int64_t>(1, total - warmup)),
                                0.0, 1.0);
    const double shape =
        schedule == Schedule::kCosine ? 0.5 * (1.0 + std::cos(std::numbers::pi * p)) : 1.0 - p;
    return static_cast<float>(peak_lr * (min_lr_ratio + (1.0 - min_lr_ratio) * shape));
}

}  // namespace qforge::train
