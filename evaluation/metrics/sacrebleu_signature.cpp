// What is here: sacrebleu_signature.h.
#include "evaluation/metrics/sacrebleu_signature.h"

namespace qforge::eval {

std::string signature_nrefs(const std::vector<std::vector<std::string>>& refs) {
    if (refs.empty()) {
        return "0";
    }
    for (const auto& r : refs) {
        if (r.size() != refs.front().size()) {
            return "var";
        }
    }
    return std::to_string(refs.front().size());
}

}  // namespace qforge::eval
