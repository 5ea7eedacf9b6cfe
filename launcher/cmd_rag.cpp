// What is here: `qforge rag`: answer one question with retrieval-augmented generation:
// retrieve from an index (optionally correctively, CRAG), prompt the Llama model (and LoRA
// adapter) with numbered context passages, print the answer and the sources [n] points to.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "kernels/common.h"
#include "launcher/commands.h"
#include "rag/rag_answer.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::launcher {

namespace {

struct RagArgs {
    std::string model;
    std::string adapter;
    std::string index;
    std::string question;
    bool corrective = false;
    std::size_t k = 5;
    int64_t max_tokens = 128;
    std::string mode = "auto";
    std::string fusion = "rrf";
    std::string evaluator = "lexical";
    double upper = 0.6;
    double lower = 0.25;
    double strip_min = 0.2;
    std::size_t wide_k = 30;
    std::string log;
    float temperature = 0.0f;
    uint64_t seed = 0;
    bool quiet = false;
};

void run_rag(const RagArgs& args) {
    namespace fs = std::filesystem;
    QF_CHECK(fs::is_directory(args.index),
             "rag: --index {}: no such directory (build one with `qforge index --docs DIR --out "
             "{}`)",
             args.index, args.index);
    QF_CHECK(fs::exists(fs::path(args.model) / "config.json"),
             "rag: --model {}: no config.json there (expected a Hugging Face Llama model "
             "directory)",
             args.model);
    QF_CHECK(args.upper >= args.lower, "rag: --upper ({}) must be >= --lower ({})", args.upper,
             args.lower);
    const rag::Retriever retriever = rag::Retriever::open(args.index);
    const Tokenizer tokenizer = Tokenizer::load(args.model);
    const LlamaModel model = LlamaModel::load(args.model);
    std::optional<LoraAdapter> adapter;
    if (!args.adapter.empty()) {
        adapter = LoraAdapter::load_peft(args.adapter, model.config());
    }

    rag::RagAnswerOptions o;
    o.retrieve.mode = args.mode == "auto" ? (retriever.has_dense() ? rag::RetrieveMode::kHybrid
                                                                   : rag::RetrieveMode::kBm25)
                                          : rag::parse_retrieve_mode(args.mode, "rag --mode");
    o.retrieve.fusion = rag::parse_fusion(args.fusion, "rag --fusion");
    o.retrieve.k = args.k;
    o.corrective = args.corrective;
    o.evaluator = args.evaluator;
    o.crag.upper = args.upper;
    o.crag.lower = args.lower;
    o.crag.strip_min = args.strip_min;
    o.crag.wide_k = args.wide_k;
    o.max_new_tokens = args.max_tokens;
    o.sampling.temperature = args.temperature;
    o.sampling.seed = args.seed;

    std::ofstream log_file;
    if (!args.log.empty()) {
        log_file.open(args.log, std::ios::app);
        QF_CHECK(log_file.good(), "rag: --log {}: cannot open for appending", args.log);
    }
    const rag::RagAnswer a =
        rag::answer_question(args.question, retriever, model, tokenizer,
                             adapter ? &*adapter : nullptr, o, [&](const std::string& line) {
                                 if (log_file.is_open()) {
                                     log_file << line << "\n";
                                     log_file.flush();
                                 } else {
                                     std::fprintf(stderr, "%s\n", line.c_str());
                                 }
                             });

    std::printf("%s\n\nSources:\n", a.answer.c_str());
    if (a.prompt.used.empty()) {
        std::printf("(no passage was retrieved)\n");
    }
    for (std::size_t i = 0; i < a.prompt.used.size(); ++i) {
        const rag::ContextSource& s = a.prompt.used[i];
        const bool cited = std::find(a.cited.begin(), a.cited.end(), i + 1) != a.cited.end();
        std::printf("[%zu] %s (byte %llu) %s%s\n", i + 1, s.source.c_str(),
                    static_cast<unsigned long long>(s.byte_offset), s.title.c_str(),
                    cited ? "  (cited)" : "");
    }
    if (!args.quiet) {
        if (a.crag) {
            std::fprintf(stderr, "[qforge] corrective RAG: %s; context %zu -> %zu bytes\n",
                         std::string(rag::crag_action_name(a.crag->action)).c_str(),
                         a.crag->retrieved_bytes, a.crag->context_bytes);
        }
        if (a.prompt.dropped_passages > 0 || a.prompt.truncated) {
            std::fprintf(stderr,
                         "[qforge] the model's context is %lld tokens: %zu passage(s) dropped%s\n",
                         static_cast<long long>(model.config().max_position_embeddings),
                         a.prompt.dropped_passages, a.prompt.truncated ? ", the last one cut" : "");
        }
        std::fprintf(stderr,
                     "[qforge] prompt %zu tokens; generated %zu tokens in %.3f s (cpu, finish: "
                     "%s)\n",
                     a.prompt.ids.size(), a.generation.tokens.size(),
                     a.generation.decode_seconds + a.generation.prefill_seconds,
                     a.generation.finish_reason.c_str());
    }
}

}  // namespace

void register_rag(CLI::App& app) {
    static RagArgs args;
    auto* sub = app.add_subcommand(
        "rag", "Answer a question with retrieval-augmented generation, citing the sources");
    sub->add_option("--model", args.model,
                    "Model directory (config.json, *.safetensors, tokenizer.json)")
        ->required();
    sub->add_option("--adapter", args.adapter, "PEFT LoRA adapter directory")
        ->check(CLI::ExistingDirectory);
    sub->add_option("--index", args.index, "Index directory (from `qforge index`)")->required();
    sub->add_option("--question", args.question, "The question")->required();
    sub->add_flag("--corrective", args.corrective,
                  "Corrective RAG: evaluate the retrieved chunks, refine or search wider");
    sub->add_option("-k,--top-k", args.k, "Context passages")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{100}));
    sub->add_option("--max-tokens", args.max_tokens, "Most new tokens to generate")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    sub->add_option("--mode", args.mode,
                    "Retrieval: auto (hybrid when the index has embeddings, else bm25) | bm25 | "
                    "dense | hybrid")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "bm25", "dense", "hybrid"}));
    sub->add_option("--fusion", args.fusion, "Hybrid fusion: rrf | weighted")
        ->capture_default_str()
        ->check(CLI::IsMember({"rrf", "weighted"}));
    sub->add_option("--evaluator", args.evaluator,
                    "Corrective RAG's relevance judge: lexical (idf-weighted term coverage) | "
                    "model (the model's Yes/No log-probabilities)")
        ->capture_default_str()
        ->check(CLI::IsMember({"lexical", "model"}));
    sub->add_option("--upper", args.upper, "Correct when a chunk scores at least this")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    sub->add_option("--lower", args.lower, "Incorrect when every chunk scores below this")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    sub->add_option("--strip-min", args.strip_min, "Refinement keeps strips scoring at least this")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    sub->add_option("--wide-k", args.wide_k, "Chunks the wider (keyword BM25) search retrieves")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
    sub->add_option("--log", args.log,
                    "Append corrective decisions as JSON lines to this file (default: stderr)");
    sub->add_option("--temperature", args.temperature, "0 = greedy")
        ->capture_default_str()
        ->check(CLI::Range(0.0f, 100.0f));
    sub->add_option("--seed", args.seed, "Sampling seed")->capture_default_str();
    sub->add_flag("-q,--quiet", args.quiet, "No timing or notes on stderr");
    add_command(app, sub, [] { run_rag(args); });
}

}  // namespace qforge::launcher
