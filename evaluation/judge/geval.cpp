// What is here: the G-Eval prompts, the steps cache and the probability-weighted score (see
// geval.h). The prompt wording follows the paper's SummEval prompts, with "source text"
// and "answer" in place of "news article" and "summary".
#include "evaluation/judge/geval.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "kernels/common.h"
#include "runtime/io/atomic_file.h"

namespace qforge::eval {

namespace {

std::string title(const std::string& name) {
    std::string t = name;
    if (!t.empty()) {
        t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
    }
    return t;
}

std::string criterion_block(const GevalCriterion& c) {
    return fmt::format("Evaluation Criteria:\n\n{} (1-5) - {}\n\n", title(c.name), c.description);
}

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : s) {
        h = (h ^ ch) * 1099511628211ull;
    }
    return h;
}

}  // namespace

GevalCriterion geval_builtin_criterion(const std::string& name) {
    if (name == "coherence") {
        return {name,
                "the collective quality of all sentences. The answer should be well-structured "
                "and well-organized, building from sentence to sentence to a coherent body of "
                "information about the topic, not a heap of related information."};
    }
    if (name == "consistency") {
        return {name,
                "the factual alignment between the answer and the source text. A factually "
                "consistent answer contains only statements that are entailed by the source; "
                "penalize answers that contain hallucinated facts."};
    }
    if (name == "fluency") {
        return {name,
                "the quality of the answer in terms of grammar, spelling, punctuation, word "
                "choice, and sentence structure."};
    }
    if (name == "relevance") {
        return {name,
                "selection of important content: the answer should address what the source "
                "asks and include only important information. Penalize redundancies and "
                "excess information."};
    }
    QF_FAIL(
        "G-Eval criterion \"{}\" is not built in (expected coherence, consistency, fluency "
        "or relevance, or give a description for a criterion of your own)",
        name);
}

std::string geval_steps_prompt(const GevalCriterion& c) {
    return "You will be given a source text (a prompt) and one answer written for it.\n\n"
           "Your task is to rate the answer on one metric.\n\n" +
           criterion_block(c) +
           "Write the evaluation steps a careful annotator follows to assign this score, as a "
           "short numbered list.\n\nEvaluation Steps:\n\n1.";
}

std::string geval_form_prompt(const GevalCriterion& c, const std::string& steps,
                              const std::string& source, const std::string& answer) {
    return "You will be given a source text (a prompt) and one answer written for it.\n\n"
           "Your task is to rate the answer on one metric.\n\n"
           "Please make sure you read and understand these instructions carefully. Please keep "
           "this document open while reviewing, and refer to it as needed.\n\n" +
           criterion_block(c) + "Evaluation Steps:\n\n" + steps +
           "\n\nExample:\n\nSource Text:\n\n" + source + "\n\nAnswer:\n\n" + answer +
           "\n\nEvaluation Form (scores ONLY):\n\n- " + title(c.name) + " (1-5):";
}

int geval_score_digit(const std::string& token) {
    const std::size_t b = token.find_first_not_of(" \t\n\r\xE2\x96\x81");  // includes "▁"
    if (b == std::string::npos) {
        return 0;
    }
    const std::size_t e = token.find_last_not_of(" \t\n\r");
    if (e != b) {
        return 0;
    }
    const char d = token[b];
    return d >= '1' && d <= '5' ? d - '0' : 0;
}

double geval_score_from_logprobs(const std::vector<TokenLogprob>& top) {
    double mass = 0.0, weighted = 0.0;
    for (const TokenLogprob& t : top) {
        if (const int d = geval_score_digit(t.token); d > 0) {
            const double p = std::exp(t.logprob);
            mass += p;
            weighted += d * p;
        }
    }
    return mass > 0.0 ? weighted / mass : std::numeric_limits<double>::quiet_NaN();
}

std::string geval_steps(Judge& judge, const GevalCriterion& c,
                        const std::filesystem::path& cache_dir, int64_t max_tokens) {
    const std::string key = judge.id() + '\x1f' + c.name + '\x1f' + c.description + "\x1fv1";
    const std::filesystem::path file =
        cache_dir / fmt::format("geval-steps-{}-{:016x}.txt", c.name.substr(0, 32), fnv1a(key));
    if (std::filesystem::is_regular_file(file)) {
        std::ifstream in(file, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    std::string steps = "1." + judge.complete(geval_steps_prompt(c), max_tokens);
    std::filesystem::create_directories(cache_dir);
    io::write_file_atomic(file, steps);
    return steps;
}

GevalResult geval_score(Judge& judge, const GevalCriterion& c, const std::string& steps,
                        const std::vector<std::string>& sources,
                        const std::vector<std::string>& answers, int top_k) {
    QF_CHECK(sources.size() == answers.size(), "G-Eval: {} sources but {} answers", sources.size(),
             answers.size());
    GevalResult r;
    r.steps = steps;
    for (std::size_t i = 0; i < answers.size(); i++) {
        const double s = geval_score_from_logprobs(
            judge.next_token_logprobs(geval_form_prompt(c, steps, sources[i], answers[i]), top_k));
        r.per_example.push_back(s);
        if (!std::isnan(s)) {
            r.mean += s;
            r.n_scored++;
        }
    }
    r.mean = r.n_scored ? r.mean / static_cast<double>(r.n_scored)
                        : std::numeric_limits<double>::quiet_NaN();
    return r;
}

}  // namespace qforge::eval
