// What is here: BleurtScorer (see bleurt.h): the head read from the checkpoint, pair encoding
// with longest-first truncation, and the pooled regression score.
#include "evaluation/learned/bleurt.h"

#include <algorithm>
#include <cmath>

#include "kernels/common.h"
#include "runtime/io/safetensors.h"

namespace qforge::eval {

namespace {

std::vector<float> read_f32(const io::CheckpointReader& ckpt, const std::string& name,
                            const std::vector<int64_t>& shape) {
    QF_CHECK(ckpt.contains(name), "{}: BLEURT head tensor \"{}\" is missing (expected shape {})",
             ckpt.dir().string(), name, shape_to_string(shape));
    const Tensor t = ckpt.get(name);
    t.check_shape(shape, fmt::format("{}: tensor \"{}\"", ckpt.file_of(name).string(), name));
    const Tensor f = t.dtype() == DType::kF32 ? t.contiguous() : t.to_f32();
    return std::vector<float>(f.data<float>(), f.data<float>() + f.numel());
}

}  // namespace

BleurtScorer BleurtScorer::load(const std::filesystem::path& dir) {
    BleurtScorer s;
    s.encoder_ = BertEncoder::load(dir);
    QF_CHECK(s.encoder_.has_tokenizer(),
             "{}: a BLEURT checkpoint needs its tokenizer (tokenizer.json or vocab.txt) in the "
             "same directory",
             dir.string());
    QF_CHECK(s.encoder_.config().type_vocab_size >= 2,
             "{}: config.json type_vocab_size is {}; BLEURT encodes sentence pairs (expected >= 2)",
             dir.string(), s.encoder_.config().type_vocab_size);
    const auto ckpt = io::CheckpointReader::open(dir);
    const std::string prefix = ckpt.contains("bert.pooler.dense.weight") ? "bert." : "";
    const int64_t H = s.encoder_.config().hidden_size;
    s.pooler_w_ = read_f32(ckpt, prefix + "pooler.dense.weight", {H, H});
    s.pooler_b_ = read_f32(ckpt, prefix + "pooler.dense.bias", {H});
    s.classifier_w_ = read_f32(ckpt, "classifier.weight", {1, H});
    s.classifier_b_ = read_f32(ckpt, "classifier.bias", {1})[0];
    return s;
}

BleurtPair BleurtScorer::encode_pair(const std::string& reference, const std::string& candidate,
                                     int64_t max_length, bool* truncated) const {
    const WordPieceTokenizer& tok = encoder_.tokenizer();
    std::vector<int32_t> a = tok.encode_plain(reference);
    std::vector<int32_t> b = tok.encode_plain(candidate);
    const auto& pre = tok.prefix_ids();
    const auto& suf = tok.suffix_ids();
    const int64_t added = static_cast<int64_t>(pre.size() + 2 * suf.size());
    const int64_t max_len = std::min(max_length, encoder_.config().max_position_embeddings);
    QF_CHECK(max_len > added, "BLEURT: max_length {} leaves no room for text ({} special ids)",
             max_len, added);
    const int64_t budget = max_len - added;
    auto na = static_cast<int64_t>(a.size()), nb = static_cast<int64_t>(b.size());
    const bool cut = na + nb > budget;
    if (cut) {
        const bool a_longer = na >= nb;  // on ties a counts as the longer, as in tokenizers
        int64_t& longer = a_longer ? na : nb;
        int64_t& shorter = a_longer ? nb : na;
        if (shorter <= budget / 2) {
            longer = budget - shorter;
        } else {
            longer = budget / 2;
            shorter = budget - longer;
        }
        a.resize(static_cast<std::size_t>(na));
        b.resize(static_cast<std::size_t>(nb));
    }
    if (truncated) {
        *truncated = cut;
    }
    BleurtPair p;
    p.ids.insert(p.ids.end(), pre.begin(), pre.end());
    p.ids.insert(p.ids.end(), a.begin(), a.end());
    p.ids.insert(p.ids.end(), suf.begin(), suf.end());
    p.type_ids.assign(p.ids.size(), 0);
    p.ids.insert(p.ids.end(), b.begin(), b.end());
    p.ids.insert(p.ids.end(), suf.begin(), suf.end());
    p.type_ids.resize(p.ids.size(), 1);
    return p;
}

BleurtResult BleurtScorer::score(const std::vector<std::string>& references,
                                 const std::vector<std::string>& candidates,
                                 int64_t max_length) const {
    QF_CHECK(references.size() == candidates.size(),
             "BLEURT: {} references but {} candidates (expected one each)", references.size(),
             candidates.size());
    const int64_t H = encoder_.config().hidden_size;
    BleurtResult result;
    for (std::size_t i = 0; i < references.size(); i++) {
        bool cut = false;
        const BleurtPair p = encode_pair(references[i], candidates[i], max_length, &cut);
        const auto T = static_cast<int64_t>(p.ids.size());
        const std::vector<int32_t> mask(p.ids.size(), 1);
        const Tensor hidden = encoder_.forward(p.ids, mask, 1, T, &p.type_ids);
        const float* cls = hidden.data<float>();  // position 0
        double s = classifier_b_;
        for (int64_t o = 0; o < H; o++) {
            double z = pooler_b_[static_cast<std::size_t>(o)];
            for (int64_t k = 0; k < H; k++) {
                z += static_cast<double>(pooler_w_[static_cast<std::size_t>(o * H + k)]) * cls[k];
            }
            s += classifier_w_[static_cast<std::size_t>(o)] * std::tanh(z);
        }
        result.per_example.push_back(s);
        result.mean += s;
        result.n_scored++;
        result.n_truncated += cut ? 1 : 0;
    }
    if (result.n_scored > 0) {
        result.mean /= static_cast<double>(result.n_scored);
    }
    return result;
}

}  // namespace qforge::eval
