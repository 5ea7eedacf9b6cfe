// What is here: "nice" axis ticks for the loss plot (1, 2 or 5 times a power of ten, after
// Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990) and their labels.
#pragma once

#include <string>
#include <vector>

namespace qforge::train {

struct AxisTicks {
    double lo = 0, hi = 1;  // the axis range: the data range widened to multiples of step
    double step = 1;
    std::vector<double> values;  // lo, lo + step, ..., hi
    int decimals = 0;            // digits after the point that tell the ticks apart
};

// About `target` ticks covering [min, max]. An empty range (min == max) is widened around its
// value so the axis still has extent; min and max must be finite with min <= max.
AxisTicks nice_ticks(double min, double max, int target);

// The label of tick `value`: fixed-point with ticks.decimals digits, or %g-style scientific
// notation for very large or very small steps.
std::string tick_label(double value, const AxisTicks& ticks);

}  // namespace qforge::train
