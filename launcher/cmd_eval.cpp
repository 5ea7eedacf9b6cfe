// What is here: `qforge eval --config configs/eval.yaml [--adapters dir...]`: generate answers
// for a JSONL test set with the base model and each adapter, score them with every configured
// metric, and write report.json / report.md / report.html. Under mpirun the systems are dealt
// to ranks (each evaluates whole systems) and rank 0 writes one leaderboard.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evaluation/judge/http_judge.h"
#include "evaluation/judge/local_judge.h"
#include "evaluation/report/report.h"
#include "evaluation/run/adapter_load.h"
#include "evaluation/run/sweep.h"
#include "kernels/common.h"
#include "launcher/abort_on_error.h"
#include "launcher/commands.h"
#include "launcher/eval_config.h"
#include "parallel/mpi_collective.h"

namespace qforge::launcher {

namespace {

namespace fs = std::filesystem;

struct EvalArgs {
    std::string config;
    std::vector<std::string> adapters;
    std::string out;
    std::string judge_url;
    std::string judge_model;
    int64_t limit = -1;
    int64_t max_tokens = -1;
    bool no_base = false;
};

// Loaded once per rank and shared by every system it evaluates.
struct Scoring {
    std::optional<eval::BertScorer> bertscore;
    std::optional<eval::BleurtScorer> bleurt;
    std::optional<LlamaModel> judge_model;
    std::optional<Tokenizer> judge_tok;
    std::unique_ptr<eval::Judge> judge;
    eval::Scorers scorers;
};

void load_scoring(const EvalConfig& c, const LlamaModel& model, const Tokenizer& tok, Scoring& s) {
    if (eval::metric_wanted(c.metrics, "bertscore")) {
        s.bertscore = eval::BertScorer::load(c.bertscore_encoder, c.bertscore_tokenizer);
        s.scorers.bertscore = &*s.bertscore;
    }
    if (eval::metric_wanted(c.metrics, "bleurt")) {
        s.bleurt = eval::BleurtScorer::load(c.bleurt_checkpoint);
        s.scorers.bleurt = &*s.bleurt;
    }
    if (!eval::metric_wanted(c.metrics, "geval")) {
        return;
    }
    if (!c.judge.url.empty()) {
        const char* key =
            c.judge.api_key_env.empty() ? nullptr : std::getenv(c.judge.api_key_env.c_str());
        s.judge = std::make_unique<eval::HttpJudge>(
            c.judge.url, c.judge.model.empty() ? "default" : c.judge.model, key ? key : "",
            c.judge.timeout_s);
    } else if (!c.judge.model.empty() && fs::path(c.judge.model) != fs::path(c.model)) {
        s.judge_tok = Tokenizer::load(c.judge.model);
        s.judge_model = LlamaModel::load(c.judge.model);
        s.judge = std::make_unique<eval::LocalJudge>(*s.judge_model, *s.judge_tok, c.judge.model);
    } else {
        s.judge = std::make_unique<eval::LocalJudge>(model, tok, c.model);
    }
    s.scorers.judge = s.judge.get();
    // Write (or read) the evaluation steps now: an unreachable judge fails before any
    // generation runs, and every system then reads the steps from the cache.
    for (const eval::GevalCriterion& crit : c.metrics.geval_criteria) {
        eval::geval_steps(*s.judge, crit, c.metrics.geval_cache_dir,
                          c.metrics.geval_steps_max_tokens);
    }
}

struct SystemSpec {
    std::string name;
    std::optional<eval::AdapterLocation> adapter;
};

eval::SystemResult evaluate_system(const EvalConfig& c, const SystemSpec& sys,
                                   const LlamaModel& model, const Tokenizer& tok,
                                   const std::vector<eval::EvalExample>& examples,
                                   const Scoring& scoring, int rank) {
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<LoraAdapter> adapter;
    eval::SystemResult r;
    r.name = sys.name;
    r.rank = rank;
    if (sys.adapter) {
        adapter = eval::load_adapter_for_model(*sys.adapter, c.model, model.config());
        r.adapter = sys.adapter->adapter_dir.string();
        r.hyperparams = read_run_hyperparams(sys.adapter->run_dir);
    }
    const eval::SystemOutputs out =
        eval::run_system(model, tok, adapter ? &*adapter : nullptr, examples, c.generation,
                         eval::metric_wanted(c.metrics, "perplexity"));
    eval::score_system(r, examples, out, c.metrics, scoring.scorers);
    std::fprintf(stderr,
                 "[qforge] eval %s (rank %d): %zu examples, %lld tokens generated, %.1f s\n",
                 r.name.c_str(), rank, examples.size(), static_cast<long long>(r.generated_tokens),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return r;
}

void print_summary(const eval::EvalReport& report, const fs::path& dir) {
    const std::string pm = eval::primary_metric(report);
    std::printf("leaderboard (by %s):\n", pm.c_str());
    int k = 1;
    for (std::size_t i : eval::leaderboard_order(report)) {
        const eval::SystemResult& s = report.systems[i];
        std::string line = fmt::format("  {}. {:<24}", k++, s.name);
        for (const eval::MetricValue& m : s.metrics) {
            line += fmt::format(" {}={:.4g}", m.name, m.value);
        }
        std::printf("%s\n", line.c_str());
    }
    std::printf("reports: %s, %s, %s\n", (dir / "report.json").string().c_str(),
                (dir / "report.md").string().c_str(), (dir / "report.html").string().c_str());
}

void run_eval_job(EvalConfig c, const EvalArgs& args) {
    std::optional<parallel::MpiSession> mpi;
    int rank = 0, world = 1;
    if (parallel::launched_by_mpi()) {
        mpi.emplace(nullptr, nullptr);
        rank = mpi->topology().rank;
        world = mpi->topology().world;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<SystemSpec> systems;
    if (!args.no_base) {
        systems.push_back({"base", std::nullopt});
    }
    for (const std::string& a : c.adapters) {
        eval::AdapterLocation loc = eval::locate_adapter(a);
        systems.push_back({loc.name, loc});
    }
    QF_CHECK(!systems.empty(), "eval: nothing to evaluate (--no-base and no adapters)");

    const std::vector<eval::EvalExample> examples = eval::load_test_set(c.data);
    const Tokenizer tok = Tokenizer::load(c.model);
    const LlamaModel model = LlamaModel::load(c.model);
    if (rank == 0) {
        std::fprintf(stderr, "[qforge] eval: %zu examples from %s, %zu system(s) on %d rank(s)\n",
                     examples.size(), c.data.path.string().c_str(), systems.size(), world);
    }
    Scoring scoring;
    load_scoring(c, model, tok, scoring);

    std::vector<std::string> mine;
    for (std::size_t i : eval::systems_for_rank(systems.size(), rank, world)) {
        nlohmann::json j =
            eval::to_json(evaluate_system(c, systems[i], model, tok, examples, scoring, rank));
        j["index"] = i;
        mine.push_back(j.dump());
    }
    std::vector<std::string> gathered;
    const std::string packed = nlohmann::json(mine).dump();
    if (world > 1) {
        gathered = eval::gather_strings(MPI_COMM_WORLD, packed);
    } else {
        gathered = {packed};
    }
    if (rank != 0) {
        return;
    }
    eval::EvalReport report;
    report.model = c.model;
    report.test_set = c.data.path.string();
    report.examples = examples;
    report.ranks = world;
    std::vector<std::optional<eval::SystemResult>> by_index(systems.size());
    for (const std::string& g : gathered) {
        for (const std::string& s : nlohmann::json::parse(g).get<std::vector<std::string>>()) {
            const nlohmann::json j = nlohmann::json::parse(s);
            by_index.at(j.at("index").get<std::size_t>()) = eval::system_result_from_json(j);
        }
    }
    for (auto& r : by_index) {
        QF_CHECK(r.has_value(), "eval: a system's result never reached rank 0");
        report.systems.push_back(std::move(*r));
    }
    report.hyperparam_keys = eval::varying_hyperparams(report.systems);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    eval::write_reports(c.output_dir, report);
    print_summary(report, c.output_dir);
}

void run_eval(const EvalArgs& args) {
    EvalConfig c = load_eval_config(args.config);
    if (!args.adapters.empty()) {
        c.adapters = args.adapters;
    }
    if (!args.out.empty()) {
        c.output_dir = args.out;
        c.metrics.geval_cache_dir = fs::path(args.out) / "geval-cache";
    }
    if (!args.judge_url.empty()) {
        c.judge.url = args.judge_url;
    }
    if (!args.judge_model.empty()) {
        c.judge.model = args.judge_model;
    }
    if (args.limit >= 0) {
        c.data.limit = args.limit;
    }
    if (args.max_tokens >= 1) {
        c.generation.max_tokens = args.max_tokens;
    }
    const bool under_mpi = parallel::launched_by_mpi();
    // under mpirun the other ranks would wait forever in the gather
    run_or_abort_job(under_mpi, [&] { run_eval_job(std::move(c), args); });
}

}  // namespace

void register_eval(CLI::App& app) {
    static EvalArgs args;
    auto* sub = app.add_subcommand(
        "eval",
        "Evaluate the base model and adapters on a JSONL test set (BLEU, chrF, ROUGE, "
        "SQuAD EM/F1, perplexity, BERTScore, BLEURT, G-Eval); writes report.json/md/html");
    sub->add_option("--config", args.config, "Eval config (see configs/eval.yaml, docs/eval.md)")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--adapters", args.adapters,
                    "Adapter or run directories (replace the config's adapters list); under "
                    "mpirun they are spread over the ranks");
    sub->add_option("--out", args.out, "Report directory (overrides output.dir)");
    sub->add_option("--judge-url", args.judge_url,
                    "OpenAI-compatible base URL for G-Eval, e.g. http://127.0.0.1:8000/v1");
    sub->add_option("--judge-model", args.judge_model,
                    "Judge model: a name for --judge-url, else a local model directory");
    sub->add_option("--limit", args.limit, "Evaluate only the first N examples");
    sub->add_option("--max-tokens", args.max_tokens, "Most new tokens per answer");
    sub->add_flag("--no-base", args.no_base, "Evaluate the adapters only");
    add_command(app, sub, [] { run_eval(args); });
}

}  // namespace qforge::launcher
