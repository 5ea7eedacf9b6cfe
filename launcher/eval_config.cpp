// What is here: load_eval_config and read_run_hyperparams (see eval_config.h).
#include "launcher/eval_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>
#include <yaml-cpp/yaml.h>

#include "kernels/common.h"
#include "launcher/config_env.h"

namespace qforge::launcher {

namespace {

class Reader {
public:
    explicit Reader(std::string file) : file_(std::move(file)) {}

    std::string where(const YAML::Node& node, const std::string& key) const {
        const auto m = node.Mark();
        return m.line >= 0 ? fmt::format("{}:{}: {}", file_, m.line + 1, key)
                           : fmt::format("{}: {}", file_, key);
    }

    void only_keys(const YAML::Node& map, const std::string& key,
                   const std::set<std::string>& allowed) const {
        QF_CHECK(map.IsMap(), "{}: expected a mapping", where(map, key));
        for (const auto& kv : map) {
            const auto k = kv.first.as<std::string>();
            QF_CHECK(allowed.count(k) != 0, "{}: unknown key (expected one of: {})",
                     where(kv.first, key.empty() ? k : key + "." + k), fmt::join(allowed, ", "));
        }
    }

    template <typename T>
    void get(const YAML::Node& map, const std::string& section, const std::string& key,
             T& out) const {
        const YAML::Node n = map[key];
        if (!n) {
            return;
        }
        const std::string name = section.empty() ? key : section + "." + key;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            QF_CHECK(n.IsSequence(), "{}: expected a list of strings", where(n, name));
            out.clear();
            for (const auto& e : n) {
                out.push_back(scalar<std::string>(e, name));
            }
        } else {
            out = scalar<T>(n, name);
        }
    }

    template <typename T>
    T scalar(const YAML::Node& n, const std::string& name) const {
        QF_CHECK(n.IsScalar(), "{}: expected a single value", where(n, name));
        try {
            if constexpr (std::is_same_v<T, std::string>) {
                return expand_config_env(n.as<std::string>());
            } else {
                return n.as<T>();
            }
        } catch (const YAML::Exception&) {
            QF_FAIL("{}: cannot read \"{}\" as {}", where(n, name), n.Scalar(),
                    std::is_same_v<T, bool> ? "true/false" : "a number");
        }
    }

private:
    std::string file_;
};

void flatten(const YAML::Node& n, const std::string& prefix,
             std::map<std::string, std::string>& out) {
    if (n.IsMap()) {
        for (const auto& kv : n) {
            const std::string k = kv.first.as<std::string>();
            flatten(kv.second, prefix.empty() ? k : prefix + "." + k, out);
        }
    } else if (n.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& e : n) {
            items.push_back(e.IsScalar() ? e.Scalar() : "?");
        }
        out[prefix] = fmt::format("[{}]", fmt::join(items, ", "));
    } else if (n.IsScalar()) {
        out[prefix] = n.Scalar();
    }
}

}  // namespace

EvalConfig load_eval_config(const std::filesystem::path& path) {
    QF_CHECK(std::filesystem::is_regular_file(path), "{}: no such eval config file", path.string());
    YAML::Node root;
    try {
        root = YAML::LoadFile(path.string());
    } catch (const YAML::Exception& e) {
        QF_FAIL("{}:{}: invalid YAML: {}", path.string(), e.mark.line + 1, e.msg);
    }
    const Reader rd(path.string());
    EvalConfig c;
    rd.only_keys(root, "",
                 {"model", "data", "generation", "metrics", "bertscore", "bleurt", "geval",
                  "adapters", "output"});
    QF_CHECK(root["model"], "{}: model: missing (expected the base model directory)",
             path.string());
    c.model = rd.scalar<std::string>(root["model"], "model");

    const YAML::Node data = root["data"];
    QF_CHECK(data, "{}: data: missing (expected data.path and field names)", path.string());
    rd.only_keys(data, "data",
                 {"path", "prompt_field", "input_field", "reference_field", "id_field",
                  "prompt_template", "limit"});
    std::string data_path;
    rd.get(data, "data", "path", data_path);
    QF_CHECK(!data_path.empty(), "{}: data.path: missing (expected a JSONL file)", path.string());
    c.data.path = data_path;
    rd.get(data, "data", "prompt_field", c.data.prompt_field);
    rd.get(data, "data", "input_field", c.data.input_field);
    rd.get(data, "data", "reference_field", c.data.reference_field);
    rd.get(data, "data", "id_field", c.data.id_field);
    rd.get(data, "data", "prompt_template", c.data.prompt_template);
    rd.get(data, "data", "limit", c.data.limit);
    QF_CHECK(c.data.limit >= 0, "{}: data.limit must be >= 0, got {}", path.string(), c.data.limit);

    if (const YAML::Node g = root["generation"]) {
        rd.only_keys(
            g, "generation",
            {"max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "chat", "system"});
        rd.get(g, "generation", "max_tokens", c.generation.max_tokens);
        rd.get(g, "generation", "temperature", c.generation.sampling.temperature);
        rd.get(g, "generation", "top_p", c.generation.sampling.top_p);
        rd.get(g, "generation", "top_k", c.generation.sampling.top_k);
        rd.get(g, "generation", "seed", c.generation.sampling.seed);
        rd.get(g, "generation", "stop", c.generation.stop);
        rd.get(g, "generation", "chat", c.generation.chat);
        rd.get(g, "generation", "system", c.generation.system_prompt);
    }
    QF_CHECK(c.generation.max_tokens >= 1, "{}: generation.max_tokens must be >= 1, got {}",
             path.string(), c.generation.max_tokens);

    c.metrics.names = {"bleu", "chrf", "rouge"};
    rd.get(root, "", "metrics", c.metrics.names);
    QF_CHECK(!c.metrics.names.empty(), "{}: metrics: the list is empty", path.string());
    for (const std::string& m : c.metrics.names) {
        const auto& known = eval::known_metrics();
        QF_CHECK(std::find(known.begin(), known.end(), m) != known.end(),
                 "{}: metrics: unknown metric \"{}\" (expected some of: {})",
                 rd.where(root["metrics"], "metrics"), m, fmt::join(known, ", "));
    }
    if (const YAML::Node b = root["bertscore"]) {
        rd.only_keys(b, "bertscore", {"encoder", "tokenizer", "idf", "max_length"});
        rd.get(b, "bertscore", "encoder", c.bertscore_encoder);
        rd.get(b, "bertscore", "tokenizer", c.bertscore_tokenizer);
        rd.get(b, "bertscore", "idf", c.metrics.bertscore.idf);
        rd.get(b, "bertscore", "max_length", c.metrics.bertscore.max_length);
    }
    QF_CHECK(!eval::metric_wanted(c.metrics, "bertscore") || !c.bertscore_encoder.empty(),
             "{}: bertscore.encoder: missing (metric bertscore needs a BERT encoder directory)",
             path.string());
    if (const YAML::Node b = root["bleurt"]) {
        rd.only_keys(b, "bleurt", {"checkpoint", "max_length"});
        rd.get(b, "bleurt", "checkpoint", c.bleurt_checkpoint);
        rd.get(b, "bleurt", "max_length", c.metrics.bleurt_max_length);
    }
    QF_CHECK(!eval::metric_wanted(c.metrics, "bleurt") || !c.bleurt_checkpoint.empty(),
             "{}: bleurt.checkpoint: missing (metric bleurt needs a checkpoint directory)",
             path.string());

    c.output_dir = "runs/eval";
    if (const YAML::Node o = root["output"]) {
        rd.only_keys(o, "output", {"dir"});
        rd.get(o, "output", "dir", c.output_dir);
    }
    c.metrics.geval_cache_dir = std::filesystem::path(c.output_dir) / "geval-cache";
    if (const YAML::Node g = root["geval"]) {
        rd.only_keys(g, "geval",
                     {"criteria", "judge_model", "judge_url", "api_key_env", "cache_dir", "top_k",
                      "timeout_s", "steps_max_tokens"});
        if (const YAML::Node cr = g["criteria"]) {
            QF_CHECK(cr.IsSequence(), "{}: expected a list", rd.where(cr, "geval.criteria"));
            for (const auto& e : cr) {
                if (e.IsScalar()) {
                    c.metrics.geval_criteria.push_back(
                        eval::geval_builtin_criterion(rd.scalar<std::string>(e, "geval.criteria")));
                } else {
                    rd.only_keys(e, "geval.criteria[]", {"name", "description"});
                    eval::GevalCriterion crit;
                    rd.get(e, "geval.criteria[]", "name", crit.name);
                    rd.get(e, "geval.criteria[]", "description", crit.description);
                    QF_CHECK(!crit.name.empty() && !crit.description.empty(),
                             "{}: a criterion of your own needs name and description",
                             rd.where(e, "geval.criteria[]"));
                    c.metrics.geval_criteria.push_back(crit);
                }
            }
        }
        rd.get(g, "geval", "judge_model", c.judge.model);
        rd.get(g, "geval", "judge_url", c.judge.url);
        rd.get(g, "geval", "api_key_env", c.judge.api_key_env);
        std::string cache;
        rd.get(g, "geval", "cache_dir", cache);
        if (!cache.empty()) {
            c.metrics.geval_cache_dir = cache;
        }
        rd.get(g, "geval", "top_k", c.metrics.geval_top_k);
        rd.get(g, "geval", "timeout_s", c.judge.timeout_s);
        rd.get(g, "geval", "steps_max_tokens", c.metrics.geval_steps_max_tokens);
    }
    QF_CHECK(!eval::metric_wanted(c.metrics, "geval") || !c.metrics.geval_criteria.empty(),
             "{}: geval.criteria: missing (metric geval needs at least one criterion)",
             path.string());
    rd.get(root, "", "adapters", c.adapters);
    return c;
}

std::map<std::string, std::string> read_run_hyperparams(const std::filesystem::path& run_dir) {
    std::map<std::string, std::string> out;
    const std::filesystem::path file = run_dir / "config.yaml";
    if (run_dir.empty() || !std::filesystem::is_regular_file(file)) {
        return out;
    }
    try {
        flatten(YAML::LoadFile(file.string()), "", out);
    } catch (const YAML::Exception& e) {
        QF_FAIL("{}:{}: invalid YAML: {}", file.string(), e.mark.line + 1, e.msg);
    }
    return out;
}

}  // namespace qforge::launcher
