// What is here: llama_shape (see llama_shapes.h). Values from meta-llama's config.json files.
#include "runtime/model/llama_shapes.h"

#include <fmt/ranges.h>

namespace qforge {

namespace {
io::LlamaConfig llama3_family() {
    io::LlamaConfig c;
    c.model_type = "llama";
    c.hidden_act = "silu";
    c.rms_norm_eps = 1e-5f;
    c.rope_theta = 500000.0f;
    c.vocab_size = 128256;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 8;
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001};
    c.torch_dtype = "bfloat16";
    return c;
}
}  // namespace

io::LlamaConfig llama_shape(const std::string& name) {
    if (name == "llama3-8b") {
        auto c = llama3_family();
        c.hidden_size = 4096;
        c.intermediate_size = 14336;
        c.num_hidden_layers = 32;
        c.head_dim = 128;
        c.max_position_embeddings = 8192;
        return c;
    }
    if (name == "llama3-1b") {  // Llama-3.2-1B: tied embeddings, llama3 rope scaling
        auto c = llama3_family();
        c.hidden_size = 2048;
        c.intermediate_size = 8192;
        c.num_hidden_layers = 16;
        c.head_dim = 64;
        c.max_position_embeddings = 8192;  // of 131072: the tables for longer are not needed
        c.tie_word_embeddings = true;
        c.rope_scaling.type = kernels::RopeScaling::Type::kLlama3;
        c.rope_scaling.factor = 32.0f;
        c.rope_scaling.low_freq_factor = 1.0f;
        c.rope_scaling.high_freq_factor = 4.0f;
        c.rope_scaling.original_max_position = 8192;
        return c;
    }
    if (name == "tiny") {
        io::LlamaConfig c;
        c.model_type = "llama";
        c.hidden_act = "silu";
        c.hidden_size = 64;
        c.intermediate_size = 176;
        c.num_hidden_layers = 2;
        c.num_attention_heads = 8;
        c.num_key_value_heads = 4;
        c.head_dim = 8;
        c.vocab_size = 32000;  // the Llama-2 tokenizer's ids fit
        c.max_position_embeddings = 1024;
        c.rms_norm_eps = 1e-5f;
        return c;
    }
    QF_FAIL("model.shape: unknown shape '{}' (expected one of: {})", name,
            fmt::join(llama_shape_names(), ", "));
}

std::vector<std::string> llama_shape_names() {
    return {"llama3-8b", "llama3-1b", "tiny"};
}

}  // namespace qforge
