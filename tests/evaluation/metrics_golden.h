// What is here: loading tests/golden/metrics (pairs and sacrebleu scores written by
// tests/golden/make_golden_metrics.py) for the metric tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace qforge::test {

struct GoldenPair {
    std::string id;
    std::string source;  // dolly, squad, edge
    std::string kind;
    std::string hyp;
    std::string ref;
    std::string ref2;  // empty when has_ref2 is false
    bool has_ref2 = false;
};

struct MetricsGolden {
    std::vector<GoldenPair> pairs;
    nlohmann::json scores;  // sacrebleu_scores.json
};

inline nlohmann::json read_json_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot open " + path.string() +
                                 " (run tests/golden/make_golden_metrics.py)");
    }
    return nlohmann::json::parse(in);
}

// Loaded once per process; the files are a few hundred KB.
inline const MetricsGolden& metrics_golden() {
    static const MetricsGolden golden = [] {
        MetricsGolden g;
        const auto dir = golden_dir() / "metrics";
        const nlohmann::json pairs = read_json_file(dir / "pairs.json");
        for (const auto& p : pairs.at("pairs")) {
            GoldenPair gp;
            gp.id = p.at("id").get<std::string>();
            gp.source = p.at("source").get<std::string>();
            gp.kind = p.at("kind").get<std::string>();
            gp.hyp = p.at("hyp").get<std::string>();
            gp.ref = p.at("ref").get<std::string>();
            if (p.contains("ref2")) {
                gp.ref2 = p.at("ref2").get<std::string>();
                gp.has_ref2 = true;
            }
            g.pairs.push_back(std::move(gp));
        }
        g.scores = read_json_file(dir / "sacrebleu_scores.json");
        return g;
    }();
    return golden;
}

}  // namespace qforge::test
