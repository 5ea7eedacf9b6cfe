// End to end: `qforge eval` on the shipped stories260K model and Dolly slice: the base model
// and two adapters (sweep-like run dirs), every text metric, perplexity, BERTScore on the
// golden encoder and G-Eval with the local judge; reports written; bad input exits non-zero
// with one clear message (missing field, mismatched adapter, unreachable judge). Under
// `ctest -L mpi` (QFORGE_TEST_MPI=1) the same job on 2 ranks must give the same leaderboard.
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/io/hf_config.h"
#include "runtime/io/safetensors.h"
#include "runtime/model/lora.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;

fs::path stories_dir() {
    return test::data_dir() / "models/stories260K";
}

// A run dir like a sweep trial's: config.yaml + adapter/ with random non-zero LoRA weights.
void make_run(const fs::path& dir, int64_t r, uint64_t seed) {
    const io::LlamaConfig cfg = io::load_llama_config(stories_dir());
    LoraOptions lo;
    lo.r = r;
    LoraAdapter a = LoraAdapter::create(cfg, lo, seed);
    const auto w = test::random_floats(a.params().size(), -0.05f, 0.05f, seed);
    std::copy(w.begin(), w.end(), a.params().begin());
    a.save_peft(dir / "adapter", stories_dir().string());
    std::ofstream(dir / "config.yaml")
        << "run:\n  name: " << dir.filename().string() << "\nlora:\n  r: " << r
        << "\n  alpha: 16\ntrain:\n  lr: 0.003\n";
}

std::string write_config(const fs::path& dir, const std::string& data, const std::string& extra) {
    const fs::path file = dir / "eval.yaml";
    std::ofstream(file) << "model: " << stories_dir().string() << "\n"
                        << "data:\n  path: " << data << "\n  prompt_field: prompt\n"
                        << "  reference_field: answer\n  limit: 3\n"
                        << "generation:\n  max_tokens: 8\n"
                        << "output:\n  dir: " << (dir / "report").string() << "\n"
                        << extra;
    return file.string();
}

std::string dolly() {
    return (test::data_dir() / "datasets/dolly-slice/dolly_151_raw.jsonl").string();
}

const char* kAllMetrics =
    "metrics: [rouge, bleu, chrf, chrf++, squad, perplexity, bertscore, bleurt, geval]\n"
    "bertscore:\n  encoder: " QFORGE_SOURCE_DIR "/tests/golden/bert/model\n";

std::string all_metrics() {
    return std::string(kAllMetrics) +
           "  tokenizer: " + (test::data_dir() / "models/all-MiniLM-L6-v2-tokenizer").string() +
           "\ngeval:\n  criteria: [fluency, {name: brevity, description: short answers}]\n"
           "  steps_max_tokens: 8\n";
}

// A BLEURT-layout checkpoint: the golden BERT encoder + the golden classifier head as two
// shards, with the MiniLM tokenizer (as tests/evaluation/test_learned_golden.cpp builds it).
fs::path make_bleurt(const fs::path& dir) {
    const fs::path bert = fs::path(QFORGE_SOURCE_DIR) / "tests/golden/bert/model";
    const fs::path tok = test::data_dir() / "models/all-MiniLM-L6-v2-tokenizer";
    fs::create_directories(dir);
    fs::copy_file(bert / "config.json", dir / "config.json");
    fs::copy_file(bert / "model.safetensors", dir / "a.safetensors");
    fs::copy_file(fs::path(QFORGE_SOURCE_DIR) / "tests/golden/eval/classifier.safetensors",
                  dir / "b.safetensors");
    fs::copy_file(tok / "tokenizer.json", dir / "tokenizer.json");
    fs::copy_file(tok / "tokenizer_config.json", dir / "tokenizer_config.json");
    nlohmann::json map = {{"classifier.weight", "b.safetensors"},
                          {"classifier.bias", "b.safetensors"}};
    for (const std::string& n : io::SafetensorsFile::open(bert / "model.safetensors").names()) {
        map[n] = "a.safetensors";
    }
    std::ofstream(dir / "model.safetensors.index.json")
        << nlohmann::json{{"weight_map", map}}.dump();
    return dir;
}

nlohmann::json read_report(const fs::path& dir) {
    std::ifstream in(dir / "report" / "report.json");
    return nlohmann::json::parse(in);
}

TEST(EvalCli, BaseAndAdaptersAllMetricsAndReports) {
    if (!fs::exists(stories_dir() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir tmp;
    make_run(tmp.path() / "trial-0", 4, 1);
    make_run(tmp.path() / "trial-1", 8, 2);
    const std::string cfg = write_config(tmp.path(), dolly(),
                                         all_metrics() + "bleurt:\n  checkpoint: " +
                                             make_bleurt(tmp.path() / "bleurt").string() + "\n");
    const auto r = test::run_command(std::string(QFORGE_BINARY) + " eval --config " + cfg +
                                     " --adapters " + (tmp.path() / "trial-0").string() + " " +
                                     (tmp.path() / "trial-1" / "adapter").string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("leaderboard (by rouge1)"), std::string::npos) << r.out;
    for (const char* f : {"report.json", "report.md", "report.html"}) {
        EXPECT_TRUE(fs::is_regular_file(tmp.path() / "report" / f)) << f;
    }
    const auto j = read_report(tmp.path());
    ASSERT_EQ(j["systems"].size(), 3u);
    EXPECT_EQ(j["systems"][0]["name"], "base");
    EXPECT_EQ(j["systems"][1]["name"], "trial-0");
    EXPECT_EQ(j["systems"][2]["name"], "trial-1");
    EXPECT_EQ(j["hyperparam_keys"], nlohmann::json{"lora.r"});
    EXPECT_EQ(j["systems"][2]["hyperparams"]["lora.r"], "8");
    const std::vector<std::string> want = {
        "rouge1",      "rouge2",       "rougeL", "bleu",          "chrf",
        "chrf++",      "exact_match",  "f1",     "perplexity",    "bertscore_p",
        "bertscore_r", "bertscore_f1", "bleurt", "geval_fluency", "geval_brevity"};
    for (const auto& s : j["systems"]) {
        ASSERT_EQ(s["metrics"].size(), want.size());
        for (std::size_t k = 0; k < want.size(); k++) {
            const auto& m = s["metrics"][k];
            EXPECT_EQ(m["name"], want[k]);
            EXPECT_EQ(m["n_total"], 3);
            EXPECT_EQ(m["n_scored"], 3) << m["name"];
            EXPECT_TRUE(m["value"].is_number()) << m["name"];
        }
        EXPECT_EQ(s["outputs"].size(), 3u);
    }
    // The adapters change the model: perplexity of the references differs from the base's.
    EXPECT_NE(j["systems"][0]["metrics"][8]["value"], j["systems"][1]["metrics"][8]["value"]);
    int cached = 0;
    for (const auto& e : fs::directory_iterator(tmp.path() / "report" / "geval-cache")) {
        cached += e.path().filename().string().rfind("geval-steps-", 0) == 0;
    }
    EXPECT_EQ(cached, 2) << "one steps file per criterion";
}

void expect_failure(const std::string& args, const std::string& needle) {
    const auto r = test::run_command(std::string(QFORGE_BINARY) + " eval " + args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(EvalCli, ClearErrors) {
    if (!fs::exists(stories_dir() / "config.json")) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    test::TempDir tmp;
    const fs::path data = tmp.path() / "set.jsonl";
    std::ofstream(data) << "{\"prompt\": \"a\", \"answer\": \"b\"}\n{\"prompt\": \"c\"}\n";
    expect_failure("--config " + write_config(tmp.path(), data.string(), ""),
                   data.string() + ":2: field \"answer\" is missing");

    const std::string cfg = write_config(tmp.path(), dolly(), "metrics: [bleu]\n");
    const io::LlamaConfig llama = io::load_llama_config(stories_dir());
    LoraAdapter::create(llama, {}, 1).save_peft(tmp.path() / "other", "TinyLlama-1.1B");
    expect_failure("--config " + cfg + " --adapters " + (tmp.path() / "other").string(),
                   "does not match the model");
    expect_failure("--config " + cfg + " --adapters " + tmp.path().string(),
                   "expected a PEFT adapter directory");

    const std::string judge_cfg = write_config(
        tmp.path(), dolly(), "metrics: [geval]\ngeval:\n  criteria: [fluency]\n  timeout_s: 5\n");
    expect_failure("--config " + judge_cfg + " --judge-url http://127.0.0.1:9/v1",
                   "judge http://127.0.0.1:9/v1/chat/completions: cannot connect");

    const std::string bad = write_config(tmp.path(), dolly(), "metrics: [bleu, meteor]\n");
    expect_failure("--config " + bad, "unknown metric \"meteor\"");
}

TEST(EvalCliMpi, TwoRanksGiveTheSameLeaderboard) {
    if (std::getenv("QFORGE_TEST_MPI") == nullptr) {
        GTEST_SKIP() << "runs under ctest -L mpi (test eval_sweep_mpi_np2)";
    }
    test::TempDir tmp;
    make_run(tmp.path() / "trial-0", 4, 1);
    make_run(tmp.path() / "trial-1", 8, 2);
    const std::string adapters = " --adapters " + (tmp.path() / "trial-0").string() + " " +
                                 (tmp.path() / "trial-1").string();
    const std::string cfg =
        write_config(tmp.path(), dolly(), "metrics: [rouge, bleu, chrf, perplexity]\n");
    const char* mpiexec = std::getenv("QFORGE_MPIEXEC");
    const auto one = test::run_command(std::string(QFORGE_BINARY) + " eval --config " + cfg +
                                       adapters + " --out " + (tmp.path() / "one").string());
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const auto two =
        test::run_command(std::string(mpiexec ? mpiexec : "mpirun") + " -np 2 --oversubscribe " +
                          QFORGE_BINARY + " eval --config " + cfg + adapters);
    ASSERT_EQ(two.exit_code, 0) << two.err;
    std::ifstream in1(tmp.path() / "one" / "report.json");
    const auto a = nlohmann::json::parse(in1);
    const auto b = read_report(tmp.path());
    EXPECT_EQ(b["ranks"], 2);
    ASSERT_EQ(b["systems"].size(), 3u);
    const std::vector<int> ranks = {0, 1, 0};
    for (std::size_t i = 0; i < 3; i++) {
        EXPECT_EQ(b["systems"][i]["rank"], ranks[i]) << "round-robin over ranks";
        EXPECT_EQ(b["systems"][i]["name"], a["systems"][i]["name"]);
        EXPECT_EQ(b["systems"][i]["outputs"], a["systems"][i]["outputs"]);
        EXPECT_EQ(b["systems"][i]["metrics"], a["systems"][i]["metrics"]);
    }
    EXPECT_EQ(b["leaderboard"], a["leaderboard"]);
    // Only rank 0 printed the leaderboard.
    std::size_t boards = 0;
    for (std::size_t at = two.out.find("leaderboard (by"); at != std::string::npos;
         at = two.out.find("leaderboard (by", at + 1)) {
        boards++;
    }
    EXPECT_EQ(boards, 1u);
}

}  // namespace
}  // namespace qforge
