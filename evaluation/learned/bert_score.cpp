// What is here: BertScorer (see bert_score.h). Embeddings are computed one text at a time
// (no padding, so a padded position can never win a max), normalized once, and cached.
#include "evaluation/learned/bert_score.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "kernels/common.h"

namespace qforge::eval {

BertScorer BertScorer::load(const std::filesystem::path& encoder_dir,
                            const std::filesystem::path& tokenizer_dir) {
    BertScorer s;
    s.encoder_ = BertEncoder::load(encoder_dir, tokenizer_dir);
    QF_CHECK(s.encoder_.has_tokenizer(),
             "{}: the BERTScore encoder needs tokenizer.json or vocab.txt beside config.json",
             encoder_dir.string());
    return s;
}

std::vector<int32_t> BertScorer::token_ids(const std::string& text, int64_t max_length) const {
    const int64_t max_len = std::min(max_length, encoder_.config().max_position_embeddings);
    return encoder_.tokenizer().encode(text, max_len);
}

const BertScorer::Embedded& BertScorer::embedded(const std::string& text,
                                                 int64_t max_length) const {
    const std::string key = std::to_string(max_length) + '\x1f' + text;
    if (auto it = cache_.find(key); it != cache_.end()) {
        return it->second;
    }
    Embedded e;
    e.ids = token_ids(text, max_length);
    const auto T = static_cast<int64_t>(e.ids.size());
    const int64_t H = encoder_.config().hidden_size;
    const std::vector<int32_t> mask(e.ids.size(), 1);
    const Tensor hidden = encoder_.forward(e.ids, mask, 1, T);
    const float* h = hidden.data<float>();
    e.rows.assign(h, h + T * H);
    for (int64_t t = 0; t < T; t++) {
        double ss = 0.0;
        for (int64_t k = 0; k < H; k++) {
            ss += static_cast<double>(e.rows[t * H + k]) * e.rows[t * H + k];
        }
        const double inv = 1.0 / std::max(std::sqrt(ss), 1e-12);
        for (int64_t k = 0; k < H; k++) {
            e.rows[t * H + k] = static_cast<float>(e.rows[t * H + k] * inv);
        }
    }
    return cache_.emplace(key, std::move(e)).first->second;
}

BertScoreResult BertScorer::score(const std::vector<std::string>& candidates,
                                  const std::vector<std::string>& references,
                                  const BertScoreOptions& options) const {
    QF_CHECK(candidates.size() == references.size(),
             "BERTScore: {} candidates but {} references (expected one reference each)",
             candidates.size(), references.size());
    QF_CHECK(options.max_length >= 2, "BERTScore: max_length must be >= 2, got {}",
             options.max_length);
    const WordPieceTokenizer& tok = encoder_.tokenizer();
    std::set<int32_t> specials(tok.prefix_ids().begin(), tok.prefix_ids().end());
    specials.insert(tok.suffix_ids().begin(), tok.suffix_ids().end());

    // idf(w) = log((M+1)/(df(w)+1)) over the references' id sets; unseen ids get log(M+1).
    std::unordered_map<int32_t, int64_t> df;
    const double M = static_cast<double>(references.size());
    if (options.idf) {
        for (const std::string& r : references) {
            const auto ids = embedded(r, options.max_length).ids;
            for (int32_t id : std::set<int32_t>(ids.begin(), ids.end())) {
                df[id]++;
            }
        }
    }
    auto weight = [&](int32_t id) {
        if (specials.count(id)) {
            return 0.0;
        }
        if (!options.idf) {
            return 1.0;
        }
        auto it = df.find(id);
        return std::log((M + 1.0) / (static_cast<double>(it == df.end() ? 0 : it->second) + 1.0));
    };

    const int64_t H = encoder_.config().hidden_size;
    BertScoreResult result;
    result.per_example.resize(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); i++) {
        const Embedded& c = embedded(candidates[i], options.max_length);
        const Embedded& r = embedded(references[i], options.max_length);
        const std::size_t Tc = c.ids.size(), Tr = r.ids.size();
        std::vector<double> best_c(Tc, -std::numeric_limits<double>::infinity());
        std::vector<double> best_r(Tr, -std::numeric_limits<double>::infinity());
        for (std::size_t a = 0; a < Tc; a++) {
            for (std::size_t b = 0; b < Tr; b++) {
                double dot = 0.0;
                for (int64_t k = 0; k < H; k++) {
                    dot += static_cast<double>(c.rows[a * H + k]) * r.rows[b * H + k];
                }
                best_c[a] = std::max(best_c[a], dot);
                best_r[b] = std::max(best_r[b], dot);
            }
        }
        double p_num = 0.0, p_den = 0.0, r_num = 0.0, r_den = 0.0;
        for (std::size_t a = 0; a < Tc; a++) {
            p_num += weight(c.ids[a]) * best_c[a];
            p_den += weight(c.ids[a]);
        }
        for (std::size_t b = 0; b < Tr; b++) {
            r_num += weight(r.ids[b]) * best_r[b];
            r_den += weight(r.ids[b]);
        }
        BertScoreValue& v = result.per_example[i];
        const bool empty = Tc <= specials.size() || Tr <= specials.size();
        if (empty) {
            result.n_empty++;
        } else {
            v.precision = p_den > 0 ? p_num / p_den : 0.0;
            v.recall = r_den > 0 ? r_num / r_den : 0.0;
            const double sum = v.precision + v.recall;
            v.f1 = sum != 0.0 ? 2.0 * v.precision * v.recall / sum : 0.0;
        }
        result.mean.precision += v.precision;
        result.mean.recall += v.recall;
        result.mean.f1 += v.f1;
        result.n_scored++;
    }
    if (result.n_scored > 0) {
        const auto n = static_cast<double>(result.n_scored);
        result.mean = {result.mean.precision / n, result.mean.recall / n, result.mean.f1 / n};
    }
    return result;
}

}  // namespace qforge::eval
