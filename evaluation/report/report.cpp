// What is here: leaderboard order, worst-first order, report.json, report.md, write_reports.
#include "evaluation/report/report.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "kernels/common.h"
#include "runtime/io/atomic_file.h"

namespace qforge::eval {

namespace {

std::string fmt_value(double v) {
    if (std::isnan(v)) {
        return "n/a";
    }
    return fmt::format("{:.4g}", v);
}

std::string cell(std::string s, std::size_t max_chars) {
    if (s.size() > max_chars) {
        std::size_t cut = max_chars;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
            cut--;  // do not split a UTF-8 sequence
        }
        s = s.substr(0, cut) + "…";
    }
    std::string out;
    for (char c : s) {
        if (c == '|') {
            out += "\\|";
        } else if (c == '\n' || c == '\r') {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

bool better(const MetricValue& a, const MetricValue& b) {
    if (std::isnan(a.value) != std::isnan(b.value)) {
        return std::isnan(b.value);
    }
    if (std::isnan(a.value) || a.value == b.value) {
        return false;
    }
    return a.higher_is_better ? a.value > b.value : a.value < b.value;
}

}  // namespace

std::string primary_metric(const EvalReport& report) {
    if (report.systems.empty() || report.systems.front().metrics.empty()) {
        return "";
    }
    return report.systems.front().metrics.front().name;
}

std::vector<std::size_t> leaderboard_order(const EvalReport& report) {
    std::vector<std::size_t> order(report.systems.size());
    std::iota(order.begin(), order.end(), 0);
    const std::string m = primary_metric(report);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const MetricValue* ma = report.systems[a].metric(m);
        const MetricValue* mb = report.systems[b].metric(m);
        if (!ma || !mb) {
            return ma != nullptr;
        }
        if (better(*ma, *mb) || better(*mb, *ma)) {
            return better(*ma, *mb);
        }
        return report.systems[a].name < report.systems[b].name;
    });
    return order;
}

std::vector<std::size_t> worst_first(const SystemResult& system, const std::string& metric) {
    const auto it = system.per_example.find(metric);
    const MetricValue* m = system.metric(metric);
    std::vector<std::size_t> order(system.outputs.size());
    std::iota(order.begin(), order.end(), 0);
    if (it == system.per_example.end() || !m) {
        return order;
    }
    const std::vector<double>& v = it->second;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (std::isnan(v[a]) != std::isnan(v[b])) {
            return std::isnan(v[b]);
        }
        return m->higher_is_better ? v[a] < v[b] : v[a] > v[b];
    });
    return order;
}

std::vector<std::string> varying_hyperparams(const std::vector<SystemResult>& systems) {
    std::set<std::string> keys;
    int with = 0;
    for (const SystemResult& s : systems) {
        with += s.hyperparams.empty() ? 0 : 1;
        for (const auto& [k, v] : s.hyperparams) {
            keys.insert(k);
        }
    }
    std::vector<std::string> out;
    for (const std::string& k : keys) {
        std::set<std::string> values;
        for (const SystemResult& s : systems) {
            if (!s.hyperparams.empty()) {
                auto it = s.hyperparams.find(k);
                values.insert(it == s.hyperparams.end() ? "" : it->second);
            }
        }
        if (with > 1 && values.size() > 1 && k != "run.name" && k != "run.output_dir") {
            out.push_back(k);
        }
    }
    if (with <= 1) {  // nothing to compare: the usual LoRA knobs, where present
        for (const char* k : {"lora.r", "lora.alpha", "lora.dropout", "train.lr", "train.max_steps",
                              "train.epochs"}) {
            if (keys.count(k)) {
                out.push_back(k);
            }
        }
    }
    return out;
}

nlohmann::json report_json(const EvalReport& report) {
    nlohmann::json systems = nlohmann::json::array();
    for (const SystemResult& s : report.systems) {
        systems.push_back(to_json(s));
    }
    nlohmann::json examples = nlohmann::json::array();
    for (const EvalExample& e : report.examples) {
        examples.push_back(
            {{"id", e.id}, {"line", e.line}, {"prompt", e.prompt}, {"references", e.references}});
    }
    nlohmann::json board = nlohmann::json::array();
    for (std::size_t i : leaderboard_order(report)) {
        board.push_back(report.systems[i].name);
    }
    return {{"model", report.model},
            {"test_set", report.test_set},
            {"num_examples", report.examples.size()},
            {"primary_metric", primary_metric(report)},
            {"leaderboard", board},
            {"hyperparam_keys", report.hyperparam_keys},
            {"seconds", report.seconds},
            {"ranks", report.ranks},
            {"systems", systems},
            {"examples", examples}};
}

std::string report_markdown(const EvalReport& report, std::size_t max_rows) {
    std::string md = "# qforge eval report\n\n";
    md += fmt::format(
        "Model `{}`, test set `{}` ({} examples), {} system(s) on {} rank(s), "
        "{:.1f} s.\n\n",
        report.model, report.test_set, report.examples.size(), report.systems.size(), report.ranks,
        report.seconds);
    if (report.systems.empty()) {
        return md;
    }
    const auto& metrics = report.systems.front().metrics;
    md += fmt::format("## Leaderboard (by {})\n\n| # | system |", primary_metric(report));
    for (const std::string& k : report.hyperparam_keys) {
        md += " " + k + " |";
    }
    for (const MetricValue& m : metrics) {
        md += " " + m.name + (m.higher_is_better ? " ↑" : " ↓") + " |";
    }
    md += "\n|---|---|";
    for (std::size_t i = 0; i < report.hyperparam_keys.size() + metrics.size(); i++) {
        md += "---|";
    }
    md += "\n";
    int rank = 1;
    for (std::size_t i : leaderboard_order(report)) {
        const SystemResult& s = report.systems[i];
        md += fmt::format("| {} | {} |", rank++, cell(s.name, 60));
        for (const std::string& k : report.hyperparam_keys) {
            auto it = s.hyperparams.find(k);
            md += " " + cell(it == s.hyperparams.end() ? "" : it->second, 40) + " |";
        }
        for (const MetricValue& m : metrics) {
            const MetricValue* v = s.metric(m.name);
            md += " " + (v ? fmt_value(v->value) : "n/a");
            if (v && v->n_scored < v->n_total) {
                md += fmt::format(" ({}/{})", v->n_scored, v->n_total);
            }
            md += " |";
        }
        md += "\n";
    }
    md += "\n## Metrics\n\n| metric | examples scored | notes |\n|---|---|---|\n";
    for (const MetricValue& m : metrics) {
        md += fmt::format("| {} | {}/{} | {} |\n", m.name, m.n_scored, m.n_total,
                          cell(m.signature, 200));
    }
    const std::string pm = primary_metric(report);
    for (const SystemResult& s : report.systems) {
        md += fmt::format("\n## {}: worst examples by {}\n\n| id |", cell(s.name, 60), pm);
        for (const MetricValue& m : s.metrics) {
            md += " " + m.name + " |";
        }
        md += " output | reference |\n|---|";
        for (std::size_t k = 0; k < s.metrics.size(); k++) {
            md += "---|";
        }
        md += "---|---|\n";
        std::size_t rows = 0;
        for (std::size_t i : worst_first(s, pm)) {
            if (rows++ >= max_rows) {
                break;
            }
            md += "| " + cell(report.examples[i].id, 40) + " |";
            for (const MetricValue& m : s.metrics) {
                md += " " + fmt_value(s.per_example.at(m.name)[i]) + " |";
            }
            md += " " + cell(s.outputs[i], 160) + " | " +
                  cell(report.examples[i].references.front(), 160) + " |\n";
        }
    }
    return md;
}

void write_reports(const std::filesystem::path& dir, const EvalReport& report) {
    std::filesystem::create_directories(dir);
    io::write_file_atomic(dir / "report.json", report_json(report).dump(1) + "\n");
    io::write_file_atomic(dir / "report.md", report_markdown(report));
    io::write_file_atomic(dir / "report.html", report_html(report));
}

}  // namespace qforge::eval
