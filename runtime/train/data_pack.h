// What is here: examples -> training rows of T tokens: truncation, greedy first-fit packing,
// and the row layout (targets, segment ids, positions) that keeps packed examples apart.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/train/data.h"

namespace qforge::train {

// Cuts `example` to its first T tokens; true when it was longer.
bool data_truncate(Example& example, int64_t T);

// One row of T: `examples` (total length <= T) end to end, then padding as its own segment.
// The layout is the one documented at Sequence.
Sequence data_make_row(const std::vector<const Example*>& examples, int64_t T, int32_t pad_id);

// Rows for `examples` (each at most T tokens), visited in the given order: one per example
// without packing; with packing, each goes to the first row that still has room for it
// (first-fit), else to a new row. Rows come out in the order they were opened.
std::vector<Sequence> data_pack(const std::vector<Example>& examples, int64_t T, bool packing,
                                int32_t pad_id);

}  // namespace qforge::train
