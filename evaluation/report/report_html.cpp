// What is here: report.html (one file, no scripts, no external resources): the leaderboard,
// one inline SVG bar chart per metric with a bar per system, and per-example tables with the
// worst cases first.
#include <algorithm>
#include <cmath>

#include "evaluation/report/report.h"
#include "kernels/common.h"

namespace qforge::eval {

namespace {

std::string esc(const std::string& s, std::size_t max_chars = std::string::npos) {
    std::string t = s;
    if (t.size() > max_chars) {
        std::size_t cut = max_chars;
        while (cut > 0 && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80) {
            cut--;
        }
        t = t.substr(0, cut) + "…";
    }
    std::string out;
    for (char c : t) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string num(double v) {
    return std::isnan(v) ? "n/a" : fmt::format("{:.4g}", v);
}

}  // namespace

std::string svg_bar_chart(const std::string& title, const std::vector<std::string>& labels,
                          const std::vector<double>& values) {
    const int bar_h = 22, gap = 6, label_w = 220, plot_w = 360, top = 28;
    const int height = top + static_cast<int>(labels.size()) * (bar_h + gap) + 8;
    double lo = 0.0, hi = 0.0;
    for (double v : values) {
        if (!std::isnan(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    }
    const double span = hi - lo > 0 ? hi - lo : 1.0;
    const double zero_x = label_w + plot_w * (0.0 - lo) / span;
    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" "
        "aria-label=\"{}\"><text x=\"4\" y=\"18\" font-weight=\"bold\">{}</text>\n",
        label_w + plot_w + 90, height, esc(title), esc(title));
    for (std::size_t i = 0; i < labels.size(); i++) {
        const int y = top + static_cast<int>(i) * (bar_h + gap);
        const double v = values[i];
        svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", label_w - 6,
                           y + bar_h - 6, esc(labels[i], 32));
        if (!std::isnan(v)) {
            const double x1 = label_w + plot_w * (std::min(v, 0.0) - lo) / span;
            const double w = std::max(1.0, plot_w * std::abs(v) / span);
            svg += fmt::format(
                "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" "
                "fill=\"#4c78a8\"><title>{}: {}</title></rect>",
                x1, y, w, bar_h, esc(labels[i]), num(v));
            svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{}</text>\n",
                               std::max(x1 + w, zero_x) + 4, y + bar_h - 6, num(v));
        } else {
            svg += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#888\">n/a</text>\n", label_w + 4,
                               y + bar_h - 6);
        }
    }
    svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#333\"/>",
                       zero_x, top - 4, zero_x, height - 4);
    return svg + "</svg>\n";
}

std::string report_html(const EvalReport& report, std::size_t max_rows) {
    std::string h =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>qforge eval report</title><style>"
        "body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;font-size:13px}"
        "th{background:#f0f0f0}td.t{max-width:380px;white-space:pre-wrap}"
        "svg{font-family:sans-serif;font-size:12px;margin:0.5em 1em 0.5em 0}"
        "</style></head><body>\n<h1>qforge eval report</h1>\n";
    h += fmt::format(
        "<p>Model <code>{}</code>, test set <code>{}</code> ({} examples), {} "
        "system(s) on {} rank(s), {:.1f} s.</p>\n",
        esc(report.model), esc(report.test_set), report.examples.size(), report.systems.size(),
        report.ranks, report.seconds);
    if (report.systems.empty()) {
        return h + "</body></html>\n";
    }
    const auto& metrics = report.systems.front().metrics;
    h += fmt::format("<h2>Leaderboard (by {})</h2>\n<table><tr><th>#</th><th>system</th>",
                     esc(primary_metric(report)));
    for (const std::string& k : report.hyperparam_keys) {
        h += "<th>" + esc(k) + "</th>";
    }
    for (const MetricValue& m : metrics) {
        h += "<th>" + esc(m.name) + (m.higher_is_better ? " ↑" : " ↓") + "</th>";
    }
    h += "</tr>\n";
    int rank = 1;
    const std::vector<std::size_t> order = leaderboard_order(report);
    for (std::size_t i : order) {
        const SystemResult& s = report.systems[i];
        h += fmt::format("<tr><td>{}</td><td>{}</td>", rank++, esc(s.name));
        for (const std::string& k : report.hyperparam_keys) {
            auto it = s.hyperparams.find(k);
            h += "<td>" + esc(it == s.hyperparams.end() ? "" : it->second) + "</td>";
        }
        for (const MetricValue& m : metrics) {
            const MetricValue* v = s.metric(m.name);
            h += "<td>" + (v ? num(v->value) : "n/a");
            if (v && v->n_scored < v->n_total) {
                h += fmt::format(" ({}/{})", v->n_scored, v->n_total);
            }
            h += "</td>";
        }
        h += "</tr>\n";
    }
    h += "</table>\n<h2>Metrics per system</h2>\n<div>\n";
    for (const MetricValue& m : metrics) {
        std::vector<std::string> labels;
        std::vector<double> values;
        for (std::size_t i : order) {
            labels.push_back(report.systems[i].name);
            const MetricValue* v = report.systems[i].metric(m.name);
            values.push_back(v ? v->value : std::nan(""));
        }
        h += svg_bar_chart(fmt::format("{} ({}, {}/{} scored)", m.name,
                                       m.higher_is_better ? "higher is better" : "lower is better",
                                       m.n_scored, m.n_total),
                           labels, values);
    }
    h += "</div>\n<table><tr><th>metric</th><th>notes</th></tr>\n";
    for (const MetricValue& m : metrics) {
        h += "<tr><td>" + esc(m.name) + "</td><td>" + esc(m.signature) + "</td></tr>\n";
    }
    h += "</table>\n";
    const std::string pm = primary_metric(report);
    for (const SystemResult& s : report.systems) {
        h += fmt::format("<h2>{}: worst examples by {}</h2>\n<table><tr><th>id</th>", esc(s.name),
                         esc(pm));
        for (const MetricValue& m : s.metrics) {
            h += "<th>" + esc(m.name) + "</th>";
        }
        h += "<th>prompt</th><th>output</th><th>reference</th></tr>\n";
        std::size_t rows = 0;
        for (std::size_t i : worst_first(s, pm)) {
            if (rows++ >= max_rows) {
                break;
            }
            h += "<tr><td>" + esc(report.examples[i].id) + "</td>";
            for (const MetricValue& m : s.metrics) {
                h += "<td>" + num(s.per_example.at(m.name)[i]) + "</td>";
            }
            h += "<td class=\"t\">" + esc(report.examples[i].prompt, 400) +
                 "</td><td class=\"t\">" + esc(s.outputs[i], 400) + "</td><td class=\"t\">" +
                 esc(report.examples[i].references.front(), 400) + "</td></tr>\n";
        }
        h += "</table>\n";
    }
    return h + "</body></html>\n";
}

}  // namespace qforge::eval
