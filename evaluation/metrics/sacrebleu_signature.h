// What is here: the pieces of sacrebleu's reproducibility signature that BLEU and chrF share.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::eval {

// The sacrebleu release whose semantics qforge reproduces; tests/golden/metrics was produced
// with it (tests/golden/make_golden_metrics.py records the version it ran).
inline constexpr std::string_view kSacrebleuVersion = "2.6.0";

// sacrebleu's "nrefs" field: the reference count when every segment has the same number of
// references, "var" otherwise.
std::string signature_nrefs(const std::vector<std::vector<std::string>>& refs);

}  // namespace qforge::eval
