// What is here: run_system, prompt_ids and reference_nll (see system_run.h).
#include "evaluation/run/system_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "kernels/common.h"
#include "runtime/generate/generate.h"

namespace qforge::eval {

std::vector<int32_t> prompt_ids(const Tokenizer& tok, const std::string& prompt,
                                const GenerationSpec& spec) {
    if (spec.chat) {
        std::vector<ChatMessage> messages;
        if (!spec.system_prompt.empty()) {
            messages.push_back({"system", spec.system_prompt});
        }
        messages.push_back({"user", prompt});
        return tok.encode(tok.apply_chat_template(messages, true), false);
    }
    return tok.encode(prompt, true);
}

std::pair<double, int64_t> reference_nll(const LlamaModel& model, const LoraAdapter* adapter,
                                         std::vector<int32_t> prompt,
                                         std::vector<int32_t> reference) {
    QF_CHECK(!prompt.empty(), "reference_nll: the prompt has no tokens");
    if (reference.empty()) {
        return {0.0, 0};
    }
    const auto ctx = static_cast<std::size_t>(model.config().max_position_embeddings);
    if (prompt.size() + reference.size() > ctx) {
        const std::size_t keep_prompt =
            std::max<std::size_t>(1, ctx > reference.size() ? ctx - reference.size() : 1);
        if (prompt.size() > keep_prompt) {
            prompt.erase(prompt.begin(),
                         prompt.begin() + static_cast<std::ptrdiff_t>(prompt.size() - keep_prompt));
        }
        reference.resize(std::min(reference.size(), ctx - prompt.size()));
    }
    std::vector<int32_t> ids = prompt;
    ids.insert(ids.end(), reference.begin(), reference.end());
    const auto T = static_cast<int64_t>(ids.size());
    KVCache cache = model.make_cache(1, T);
    const Tensor logits = model.forward(ids, 1, T, cache, /*last_only=*/false, adapter);
    const int64_t V = model.config().vocab_size;
    const float* lp = logits.data<float>();
    double nll = 0.0;
    // Position t predicts ids[t+1]; the reference starts at index prompt.size().
    for (std::size_t k = 0; k < reference.size(); k++) {
        const int64_t t = static_cast<int64_t>(prompt.size() + k) - 1;
        const float* row = lp + t * V;
        double mx = row[0];
        for (int64_t v = 1; v < V; v++) {
            mx = std::max(mx, static_cast<double>(row[v]));
        }
        double sum = 0.0;
        for (int64_t v = 0; v < V; v++) {
            sum += std::exp(static_cast<double>(row[v]) - mx);
        }
        nll += std::log(sum) + mx - static_cast<double>(row[reference[k]]);
    }
    return {nll, static_cast<int64_t>(reference.size())};
}

SystemOutputs run_system(const LlamaModel& model, const Tokenizer& tok, const LoraAdapter* adapter,
                         const std::vector<EvalExample>& examples, const GenerationSpec& spec,
                         bool perplexity) {
    SystemOutputs out;
    GenerateOptions options;
    options.max_new_tokens = spec.max_tokens;
    options.sampling = spec.sampling;
    options.adapter = adapter;
    options.stop_ids = model.config().eos_token_ids;
    if (auto eos = tok.eos_id(); eos && std::find(options.stop_ids.begin(), options.stop_ids.end(),
                                                  *eos) == options.stop_ids.end()) {
        options.stop_ids.push_back(*eos);
    }
    const int64_t ctx = model.config().max_position_embeddings;
    for (const EvalExample& ex : examples) {
        std::vector<int32_t> ids = prompt_ids(tok, ex.prompt, spec);
        QF_CHECK(!ids.empty(), "example {} (line {}): the prompt encodes to no tokens", ex.id,
                 ex.line);
        const std::vector<int32_t> full_prompt = ids;
        // Leave room for the answer: keep the last (ctx - max_tokens) prompt tokens (>= 1).
        const int64_t room = std::max<int64_t>(1, ctx - std::min(spec.max_tokens, ctx - 1));
        if (static_cast<int64_t>(ids.size()) > room) {
            ids.erase(ids.begin(), ids.end() - room);
            out.prompts_truncated++;
        }
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<int32_t> answer;
        std::string text;
        generate(model, ids, options, [&](int32_t token) {
            answer.push_back(token);
            if (spec.stop.empty()) {
                return true;
            }
            text = tok.decode(answer, true);
            for (const std::string& s : spec.stop) {
                if (text.find(s) != std::string::npos) {
                    return false;
                }
            }
            return true;
        });
        out.generate_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        out.generated_tokens += static_cast<int64_t>(answer.size());
        text = tok.decode(answer, true);
        for (const std::string& s : spec.stop) {
            if (auto at = text.find(s); at != std::string::npos) {
                text.resize(at);
            }
        }
        out.outputs.push_back(text);
        if (perplexity) {
            auto [nll, n] = reference_nll(model, adapter, full_prompt,
                                          tok.encode(ex.references.front(), false));
            out.ref_nll.push_back(nll);
            out.ref_tokens.push_back(n);
        }
    }
    return out;
}

}  // namespace qforge::eval
