// What is here: scoring outputs with the text metrics (values equal the metric functions',
// counts reported, empty and very long outputs scored), the JSON round trip that eval sweeps
// send to rank 0, leaderboard and worst-first order, and the three report files.
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

#include "evaluation/metrics/bleu.h"
#include "evaluation/metrics/squad.h"
#include "evaluation/report/report.h"
#include "evaluation/run/scoring.h"
#include "evaluation/run/sweep.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

std::vector<EvalExample> squad_examples(std::size_t n) {
    TestSetSpec spec;
    spec.path = test::data_dir() / "datasets" / "squad-v1.1-dev" / "rag_queries.jsonl";
    spec.prompt_template = "Question: {question}\nAnswer:";
    spec.reference_field = "answers";
    spec.id_field = "id";
    spec.limit = static_cast<int64_t>(n);
    return load_test_set(spec);
}

SystemResult scored(const std::string& name, const std::vector<EvalExample>& ex,
                    std::vector<std::string> outputs) {
    MetricsSpec spec;
    spec.names = {"squad", "bleu", "chrf", "chrf++", "rouge"};
    SystemOutputs out;
    out.outputs = std::move(outputs);
    SystemResult r;
    r.name = name;
    score_system(r, ex, out, spec, {});
    return r;
}

TEST(EvalScoring, TextMetricsWithEmptyAndLongOutputs) {
    const auto ex = squad_examples(4);
    const std::string long_out(100000, 'w');
    const std::vector<std::string> outs = {ex[0].references[0], "", long_out, "Carolina"};
    const SystemResult r = scored("sys", ex, outs);
    ASSERT_NE(r.metric("exact_match"), nullptr);
    for (const MetricValue& m : r.metrics) {
        EXPECT_EQ(m.n_total, 4u) << m.name;
        EXPECT_EQ(m.n_scored, 4u) << m.name;
        ASSERT_EQ(r.per_example.at(m.name).size(), 4u) << m.name;
        EXPECT_TRUE(std::isfinite(m.value)) << m.name;
    }
    std::vector<std::vector<std::string>> refs;
    for (const auto& e : ex) {
        refs.push_back(e.references);
    }
    EXPECT_DOUBLE_EQ(r.metric("exact_match")->value, squad_corpus(outs, refs).exact_match);
    EXPECT_DOUBLE_EQ(r.metric("bleu")->value, bleu_corpus(outs, refs).score);
    EXPECT_EQ(r.metric("bleu")->signature.rfind("nrefs:var|case:mixed|eff:no|tok:13a", 0), 0u)
        << r.metric("bleu")->signature;
    EXPECT_DOUBLE_EQ(r.per_example.at("exact_match")[0], 100.0);
    EXPECT_DOUBLE_EQ(r.per_example.at("exact_match")[1], 0.0);
    EXPECT_EQ(worst_first(r, "exact_match").back(), 0u);
}

TEST(EvalScoring, ResultJsonRoundTripKeepsNaN) {
    const auto ex = squad_examples(3);
    SystemResult r = scored("adapter-a", ex, {"x", "y", "Denver"});
    r.hyperparams = {{"lora.r", "8"}, {"train.lr", "0.003"}};
    r.per_example["f1"][1] = std::nan("");
    r.rank = 1;
    const SystemResult back = system_result_from_json(nlohmann::json::parse(to_json(r).dump()));
    EXPECT_EQ(back.name, r.name);
    EXPECT_EQ(back.hyperparams, r.hyperparams);
    EXPECT_EQ(back.outputs, r.outputs);
    EXPECT_EQ(back.rank, 1);
    ASSERT_EQ(back.metrics.size(), r.metrics.size());
    for (std::size_t i = 0; i < r.metrics.size(); i++) {
        EXPECT_EQ(back.metrics[i].name, r.metrics[i].name);
        EXPECT_DOUBLE_EQ(back.metrics[i].value, r.metrics[i].value);
        EXPECT_EQ(back.metrics[i].signature, r.metrics[i].signature);
    }
    EXPECT_TRUE(std::isnan(back.per_example.at("f1")[1]));
}

TEST(EvalReport, LeaderboardReportsAndSvg) {
    EvalReport rep;
    rep.model = "stories260K";
    rep.test_set = "rag_queries.jsonl";
    rep.examples = squad_examples(3);
    rep.systems.push_back(scored("base", rep.examples, {"no", "", "nothing"}));
    rep.systems.push_back(
        scored("trial-1", rep.examples, {"Denver Broncos", "Carolina Panthers", "x"}));
    rep.systems.push_back(scored("trial-0", rep.examples, {"Denver Broncos", "", "<b>&"}));
    rep.systems[1].hyperparams = {{"lora.r", "16"}, {"run.name", "trial-1"}, {"train.lr", "1"}};
    rep.systems[2].hyperparams = {{"lora.r", "8"}, {"run.name", "trial-0"}, {"train.lr", "1"}};
    rep.hyperparam_keys = varying_hyperparams(rep.systems);
    EXPECT_EQ(rep.hyperparam_keys, std::vector<std::string>{"lora.r"});
    EXPECT_EQ(primary_metric(rep), "exact_match");
    EXPECT_EQ(leaderboard_order(rep), (std::vector<std::size_t>{1, 2, 0}));

    test::TempDir tmp;
    write_reports(tmp.path() / "out", rep);
    std::ifstream in(tmp.path() / "out" / "report.html");
    std::stringstream html;
    html << in.rdbuf();
    const std::string h = html.str();
    EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
    std::size_t svgs = 0;
    for (std::size_t at = h.find("<svg"); at != std::string::npos; at = h.find("<svg", at + 1)) {
        svgs++;
    }
    EXPECT_EQ(svgs, rep.systems[0].metrics.size()) << "one chart per metric";
    EXPECT_EQ(h.find("<script"), std::string::npos);
    EXPECT_EQ(h.find("src="), std::string::npos) << "self-contained";
    EXPECT_NE(h.find("&lt;b&gt;&amp;"), std::string::npos) << "outputs are escaped";
    const auto j = nlohmann::json::parse(std::ifstream(tmp.path() / "out" / "report.json"));
    EXPECT_EQ(j["leaderboard"], (nlohmann::json{"trial-1", "trial-0", "base"}));
    EXPECT_EQ(j["systems"].size(), 3u);
    std::ifstream md_in(tmp.path() / "out" / "report.md");
    std::stringstream md;
    md << md_in.rdbuf();
    EXPECT_NE(md.str().find("| 1 | trial-1 | 16 |"), std::string::npos) << md.str();
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "out" / "report.md.tmp"));

    const std::string svg = svg_bar_chart("t", {"a", "b"}, {-1.0, std::nan("")});
    EXPECT_NE(svg.find("n/a"), std::string::npos);
    EXPECT_NE(svg.find("<rect"), std::string::npos);
}

TEST(EvalSweep, SystemsAreDealtRoundRobin) {
    EXPECT_EQ(systems_for_rank(5, 0, 2), (std::vector<std::size_t>{0, 2, 4}));
    EXPECT_EQ(systems_for_rank(5, 1, 2), (std::vector<std::size_t>{1, 3}));
    EXPECT_EQ(systems_for_rank(2, 2, 3), std::vector<std::size_t>{});
    EXPECT_EQ(systems_for_rank(3, 0, 1), (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_THROW(systems_for_rank(3, 2, 2), Error);
}

}  // namespace
}  // namespace qforge::eval
