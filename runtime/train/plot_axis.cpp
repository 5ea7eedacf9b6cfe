// What is here: nice_ticks and tick_label (see plot_axis.h).
#include "runtime/train/plot_axis.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "kernels/common.h"

namespace qforge::train {
namespace {

// The "nice" number (1, 2, 5 or 10 times a power of ten) nearest to x > 0.
double nice_number(double x) {
    const double exponent = std::floor(std::log10(x));
    const double fraction = x / std::pow(10.0, exponent);
    const double nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
    return nice * std::pow(10.0, exponent);
}

bool use_scientific(const AxisTicks& ticks) {
    const double magnitude = std::max(std::fabs(ticks.lo), std::fabs(ticks.hi));
    return magnitude >= 1e7 || ticks.decimals > 6;
}

}  // namespace

AxisTicks nice_ticks(double min, double max, int target) {
    QF_CHECK(std::isfinite(min) && std::isfinite(max) && min <= max,
             "nice_ticks: bad range [{}, {}] (expected finite min <= max)", min, max);
    QF_CHECK(std::isfinite(max - min), "nice_ticks: range [{}, {}] is too wide", min, max);
    QF_CHECK(target >= 2, "nice_ticks: target {} (expected at least 2 ticks)", target);
    if (max - min <= std::fabs(max) * 1e-12) {
        const double pad = min == 0.0 ? 1.0 : std::fabs(min) * 0.1;
        min -= pad;
        max += pad;
    }
    AxisTicks ticks;
    // Heckbert rounds the range to a nice number first; rounding only the step keeps the
    // tick count nearer the target (2.5 units with 7 ticks: steps of 0.5, not 1).
    ticks.step = nice_number((max - min) / (target - 1));
    ticks.lo = std::floor(min / ticks.step) * ticks.step;
    ticks.hi = std::ceil(max / ticks.step) * ticks.step;
    ticks.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(ticks.step))));
    const auto n = static_cast<int>(std::lround((ticks.hi - ticks.lo) / ticks.step));
    for (int i = 0; i <= n; ++i) {
        double v = ticks.lo + i * ticks.step;
        if (std::fabs(v) < ticks.step * 1e-9) {
            v = 0.0;  // no "-0.0" from rounding
        }
        ticks.values.push_back(v);
    }
    return ticks;
}

std::string tick_label(double value, const AxisTicks& ticks) {
    if (use_scientific(ticks)) {
        // Enough significant digits to tell neighbouring ticks apart.
        const double magnitude = std::max(std::fabs(ticks.lo), std::fabs(ticks.hi));
        const int digits = static_cast<int>(std::floor(std::log10(magnitude)) -
                                            std::floor(std::log10(ticks.step))) +
                           1;
        return value == 0.0 ? "0" : fmt::format("{:.{}g}", value, std::clamp(digits, 1, 15));
    }
    return fmt::format("{:.{}f}", value, ticks.decimals);
}

}  // namespace qforge::train
