// What is here: BertEncoder::load (tensor names, shapes, the "bert." prefix), the forward pass
// written out layer by layer as Hugging Face BertModel computes it (post-LayerNorm blocks):
//   x = LN(word[id] + pos[t] + type[token_type])
//   per layer: a = LN(x + Wo·attn(Wq·x, Wk·x, Wv·x)),  x = LN(a + W2·gelu(W1·a))
// and embed() (tokenize, pad, forward, pool). N = B*T rows, H = hidden, I = intermediate.
#include "runtime/encoder/bert_encoder.h"

#include <algorithm>

#include "kernels/embedding.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/linear.h"
#include "runtime/encoder/bert_attention.h"
#include "runtime/io/safetensors.h"

namespace qforge {

namespace {

// Reads `name` (after the checkpoint's prefix) as contiguous f32 of the expected shape.
Tensor read_tensor(const io::CheckpointReader& ckpt, const std::string& prefix,
                   const std::string& name, const std::vector<int64_t>& shape) {
    const std::string full = prefix + name;
    QF_CHECK(ckpt.contains(full), "{}: tensor \"{}\" is missing (expected shape {})",
             ckpt.dir().string(), full, shape_to_string(shape));
    const Tensor t = ckpt.get(full);
    QF_CHECK(t.dtype() == DType::kF32 || t.dtype() == DType::kBF16 || t.dtype() == DType::kF16,
             "{}: tensor \"{}\" has dtype {} (expected F32, BF16 or F16)",
             ckpt.file_of(full).string(), full, dtype_name(t.dtype()));
    t.check_shape(shape, fmt::format("{}: tensor \"{}\"", ckpt.file_of(full).string(), full));
    return t.dtype() == DType::kF32 ? t.contiguous() : t.to_f32();
}

void add_inplace(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        x[i] += y[i];
    }
}

}  // namespace

BertEncoder BertEncoder::load(const std::filesystem::path& dir,
                              const std::filesystem::path& tokenizer_dir) {
    BertEncoder e;
    e.config_ = io::load_bert_config(dir);
    const io::BertConfig& c = e.config_;
    const auto ckpt = io::CheckpointReader::open(dir);
    std::string prefix;
    if (!ckpt.contains("embeddings.word_embeddings.weight") &&
        ckpt.contains("bert.embeddings.word_embeddings.weight")) {
        prefix = "bert.";
    }
    const int64_t H = c.hidden_size, I = c.intermediate_size;
    auto get = [&](const std::string& name, const std::vector<int64_t>& shape) {
        return read_tensor(ckpt, prefix, name, shape);
    };
    e.word_emb_ = get("embeddings.word_embeddings.weight", {c.vocab_size, H});
    e.pos_emb_ = get("embeddings.position_embeddings.weight", {c.max_position_embeddings, H});
    e.type_emb_ = get("embeddings.token_type_embeddings.weight", {c.type_vocab_size, H});
    e.emb_ln_w_ = get("embeddings.LayerNorm.weight", {H});
    e.emb_ln_b_ = get("embeddings.LayerNorm.bias", {H});
    for (int64_t i = 0; i < c.num_hidden_layers; i++) {
        const std::string p = fmt::format("encoder.layer.{}.", i);
        Layer l;
        l.q_w = get(p + "attention.self.query.weight", {H, H});
        l.q_b = get(p + "attention.self.query.bias", {H});
        l.k_w = get(p + "attention.self.key.weight", {H, H});
        l.k_b = get(p + "attention.self.key.bias", {H});
        l.v_w = get(p + "attention.self.value.weight", {H, H});
        l.v_b = get(p + "attention.self.value.bias", {H});
        l.attn_out_w = get(p + "attention.output.dense.weight", {H, H});
        l.attn_out_b = get(p + "attention.output.dense.bias", {H});
        l.attn_ln_w = get(p + "attention.output.LayerNorm.weight", {H});
        l.attn_ln_b = get(p + "attention.output.LayerNorm.bias", {H});
        l.inter_w = get(p + "intermediate.dense.weight", {I, H});
        l.inter_b = get(p + "intermediate.dense.bias", {I});
        l.out_w = get(p + "output.dense.weight", {H, I});
        l.out_b = get(p + "output.dense.bias", {H});
        l.out_ln_w = get(p + "output.LayerNorm.weight", {H});
        l.out_ln_b = get(p + "output.LayerNorm.bias", {H});
        e.layers_.push_back(std::move(l));
    }
    const std::string extra = prefix + fmt::format("encoder.layer.{}.", c.num_hidden_layers);
    for (const std::string& name : ckpt.names()) {
        QF_CHECK(name.rfind(extra, 0) != 0,
                 "{}: tensor \"{}\" belongs to a layer past num_hidden_layers {} of config.json",
                 ckpt.file_of(name).string(), name, c.num_hidden_layers);
    }
    const std::filesystem::path tdir = tokenizer_dir.empty() ? dir : tokenizer_dir;
    if (std::filesystem::exists(tdir / "tokenizer.json") ||
        std::filesystem::exists(tdir / "vocab.txt")) {
        e.tokenizer_ = WordPieceTokenizer::load(tdir);
        QF_CHECK(e.tokenizer_->vocab_size() <= c.vocab_size,
                 "{}: the tokenizer has {} tokens but config.json vocab_size is {}", tdir.string(),
                 e.tokenizer_->vocab_size(), c.vocab_size);
    } else {
        QF_CHECK(tokenizer_dir.empty(), "{}: expected tokenizer.json or vocab.txt",
                 tokenizer_dir.string());
    }
    return e;
}

const WordPieceTokenizer& BertEncoder::tokenizer() const {
    QF_CHECK(tokenizer_.has_value(),
             "BertEncoder: no tokenizer was loaded (no tokenizer.json or vocab.txt beside the "
             "model; pass tokenizer_dir to BertEncoder::load)");
    return *tokenizer_;
}

Tensor BertEncoder::forward(const std::vector<int32_t>& ids, const std::vector<int32_t>& mask,
                            int64_t B, int64_t T,
                            const std::vector<int32_t>* token_types) const {
    const io::BertConfig& c = config_;
    QF_CHECK(B >= 1 && T >= 1, "BertEncoder::forward: expected B >= 1 and T >= 1, got B={} T={}", B,
             T);
    QF_CHECK(T <= c.max_position_embeddings,
             "BertEncoder::forward: sequence length {} exceeds max_position_embeddings {}", T,
             c.max_position_embeddings);
    const int64_t N = B * T, H = c.hidden_size, I = c.intermediate_size;
    const int64_t NH = c.num_attention_heads, D = c.head_dim();
    QF_CHECK(static_cast<int64_t>(ids.size()) == N && static_cast<int64_t>(mask.size()) == N,
             "BertEncoder::forward: expected {} ids and mask values (B={} x T={}), got {} and {}",
             N, B, T, ids.size(), mask.size());

    QF_CHECK(token_types == nullptr || static_cast<int64_t>(token_types->size()) == N,
             "BertEncoder::forward: expected {} token type ids, got {}", N,
             token_types ? token_types->size() : 0);

    Tensor x = Tensor::empty({B, T, H}, DType::kF32);
    float* xp = x.data<float>();
    // Embeddings: word (range-checked by the op) + absolute position + token type (0 default).
    kernels::embedding_forward(ctx_, xp, ids.data(), word_emb_.data<float>(), N, H, c.vocab_size);
    const float* pos = pos_emb_.data<float>();
    for (int64_t n = 0; n < N; n++) {
        const int32_t type = token_types ? (*token_types)[static_cast<std::size_t>(n)] : 0;
        QF_CHECK(type >= 0 && type < c.type_vocab_size,
                 "BertEncoder::forward: token type id {} at position {} is outside [0, {})", type,
                 n, c.type_vocab_size);
        float* row = xp + n * H;
        const float* prow = pos + (n % T) * H;
        const float* trow = type_emb_.data<float>() + type * H;
        for (int64_t h = 0; h < H; h++) {
            row[h] += prow[h] + trow[h];
        }
    }
    const float eps = c.layer_norm_eps;
    kernels::layernorm_forward(ctx_, xp, nullptr, nullptr, xp, emb_ln_w_.data<float>(),
                               emb_ln_b_.data<float>(), N, H, eps);

    std::vector<float> q(N * H), k(N * H), v(N * H), att(N * H), proj(N * H), inter(N * I),
        scores(T * T);
    for (const Layer& l : layers_) {
        kernels::linear_forward(ctx_, q.data(), xp, l.q_w.data<float>(), l.q_b.data<float>(), N, H,
                                H);
        kernels::linear_forward(ctx_, k.data(), xp, l.k_w.data<float>(), l.k_b.data<float>(), N, H,
                                H);
        kernels::linear_forward(ctx_, v.data(), xp, l.v_w.data<float>(), l.v_b.data<float>(), N, H,
                                H);
        bert_attention_forward(ctx_, att.data(), scores.data(), q.data(), k.data(), v.data(),
                               mask.data(), B, T, NH, D);
        kernels::linear_forward(ctx_, proj.data(), att.data(), l.attn_out_w.data<float>(),
                                l.attn_out_b.data<float>(), N, H, H);
        add_inplace(xp, proj.data(), N * H);  // residual
        kernels::layernorm_forward(ctx_, xp, nullptr, nullptr, xp, l.attn_ln_w.data<float>(),
                                   l.attn_ln_b.data<float>(), N, H, eps);
        kernels::linear_forward(ctx_, inter.data(), xp, l.inter_w.data<float>(),
                                l.inter_b.data<float>(), N, H, I);
        kernels::gelu_forward(ctx_, inter.data(), inter.data(), N * I);
        kernels::linear_forward(ctx_, proj.data(), inter.data(), l.out_w.data<float>(),
                                l.out_b.data<float>(), N, I, H);
        add_inplace(xp, proj.data(), N * H);  // residual
        kernels::layernorm_forward(ctx_, xp, nullptr, nullptr, xp, l.out_ln_w.data<float>(),
                                   l.out_ln_b.data<float>(), N, H, eps);
    }
    return x;
}

std::vector<std::vector<float>> BertEncoder::embed(const std::vector<std::string>& texts,
                                                   Pooling pooling, bool normalize,
                                                   int64_t batch_size, int64_t max_length) const {
    QF_CHECK(batch_size >= 1, "BertEncoder::embed: expected batch_size >= 1, got {}", batch_size);
    const WordPieceTokenizer& tok = tokenizer();
    const int64_t max_len = std::min(max_length, config_.max_position_embeddings);
    std::vector<std::vector<int32_t>> seqs;
    seqs.reserve(texts.size());
    for (const std::string& text : texts) {
        seqs.push_back(tok.encode(text, max_len));
    }
    // Batches of similar lengths pad less; padding does not change the results (tested).
    std::vector<std::size_t> order(texts.size());
    for (std::size_t i = 0; i < order.size(); i++) {
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return seqs[a].size() < seqs[b].size(); });
    std::vector<std::vector<float>> result(texts.size());
    for (std::size_t first = 0; first < order.size();
         first += static_cast<std::size_t>(batch_size)) {
        const std::size_t last =
            std::min(order.size(), first + static_cast<std::size_t>(batch_size));
        const auto B = static_cast<int64_t>(last - first);
        const auto T = static_cast<int64_t>(seqs[order[last - 1]].size());  // the longest
        std::vector<int32_t> ids(static_cast<std::size_t>(B * T), tok.pad_id());
        std::vector<int32_t> mask(static_cast<std::size_t>(B * T), 0);
        for (int64_t b = 0; b < B; b++) {
            const auto& s = seqs[order[first + static_cast<std::size_t>(b)]];
            std::copy(s.begin(), s.end(), ids.begin() + b * T);
            std::fill(mask.begin() + b * T, mask.begin() + b * T + static_cast<int64_t>(s.size()),
                      1);
        }
        const Tensor hidden = forward(ids, mask, B, T);
        auto pooled = pool_hidden_states(hidden, mask.data(), pooling, normalize);
        for (int64_t b = 0; b < B; b++) {
            result[order[first + static_cast<std::size_t>(b)]] =
                std::move(pooled[static_cast<std::size_t>(b)]);
        }
    }
    return result;
}

}  // namespace qforge
