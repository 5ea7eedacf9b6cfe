// What is here: SystemResult's JSON round trip (NaN is written as null) and metric lookup.
#include "evaluation/run/results.h"

#include <cmath>
#include <limits>

namespace qforge::eval {

using nlohmann::json;

namespace {

json number_or_null(double v) {
    return std::isfinite(v) ? json(v) : json(nullptr);
}

double number_or_nan(const json& j) {
    return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

const MetricValue* SystemResult::metric(const std::string& metric_name) const {
    for (const MetricValue& m : metrics) {
        if (m.name == metric_name) {
            return &m;
        }
    }
    return nullptr;
}

json to_json(const SystemResult& r) {
    json metrics = json::array();
    for (const MetricValue& m : r.metrics) {
        metrics.push_back({{"name", m.name},
                           {"value", number_or_null(m.value)},
                           {"n_scored", m.n_scored},
                           {"n_total", m.n_total},
                           {"higher_is_better", m.higher_is_better},
                           {"signature", m.signature}});
    }
    json per_example = json::object();
    for (const auto& [name, values] : r.per_example) {
        json arr = json::array();
        for (double v : values) {
            arr.push_back(number_or_null(v));
        }
        per_example[name] = std::move(arr);
    }
    return {{"name", r.name},
            {"adapter", r.adapter},
            {"hyperparams", r.hyperparams},
            {"metrics", metrics},
            {"per_example", per_example},
            {"outputs", r.outputs},
            {"generate_seconds", r.generate_seconds},
            {"generated_tokens", r.generated_tokens},
            {"prompts_truncated", r.prompts_truncated},
            {"rank", r.rank}};
}

SystemResult system_result_from_json(const json& j) {
    SystemResult r;
    r.name = j.at("name").get<std::string>();
    r.adapter = j.at("adapter").get<std::string>();
    r.hyperparams = j.at("hyperparams").get<std::map<std::string, std::string>>();
    for (const json& m : j.at("metrics")) {
        r.metrics.push_back(
            {m.at("name").get<std::string>(), number_or_nan(m.at("value")),
             m.at("n_scored").get<std::size_t>(), m.at("n_total").get<std::size_t>(),
             m.at("higher_is_better").get<bool>(), m.at("signature").get<std::string>()});
    }
    for (const auto& [name, arr] : j.at("per_example").items()) {
        std::vector<double> values;
        for (const json& v : arr) {
            values.push_back(number_or_nan(v));
        }
        r.per_example[name] = std::move(values);
    }
    r.outputs = j.at("outputs").get<std::vector<std::string>>();
    r.generate_seconds = j.at("generate_seconds").get<double>();
    r.generated_tokens = j.at("generated_tokens").get<int64_t>();
    r.prompts_truncated = j.at("prompts_truncated").get<int64_t>();
    r.rank = j.at("rank").get<int>();
    return r;
}

}  // namespace qforge::eval
