// What is here: every setting of a training run, as plain data. The launcher fills it from
// YAML + `--set key=value` overrides (launcher/config*.cpp); docs/config.md documents each key
// with the default written here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qforge::train {

struct RunConfig {
    std::string name = "run";         // run.name: the run directory is <output_dir>/<name>
    std::string output_dir = "runs";  // run.output_dir
    uint64_t seed = 1;                // run.seed: LoRA init, dropout, data order
};

struct ModelConfig {
    std::string path;              // model.path: HF model directory (required unless init=random)
    std::string quantize = "nf4";  // model.quantize: nf4 | none (fp32 base on the CPU)
    std::string init = "pretrained";  // model.init: pretrained | random
    std::string shape;      // model.shape: llama3-8b | llama3-1b | tiny (with init=random)
    std::string tokenizer;  // model.tokenizer: defaults to model.path
};

struct LoraConfig {
    int64_t r = 8;            // lora.r
    float alpha = 16.0f;      // lora.alpha: scale = alpha / r (alpha / sqrt(r) with rslora)
    float dropout = 0.05f;    // lora.dropout: on the LoRA input, training only
    bool use_rslora = false;  // lora.use_rslora
    std::vector<std::string> target_modules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                               "gate_proj", "up_proj", "down_proj"};
};

struct DataConfig {
    std::vector<std::string> train;       // data.train: JSONL files (required)
    std::string format = "auto";          // data.format: auto | alpaca | chat | text
    int64_t seq_len = 256;                // data.seq_len
    bool packing = true;                  // data.packing
    bool train_on_responses_only = true;  // data.train_on_responses_only
    bool skip_bad_lines = false;          // data.skip_bad_lines
    double validation_fraction = 0.1;     // data.validation_fraction
};

struct OptimConfig {
    int64_t epochs = 1;               // train.epochs (ignored when max_steps > 0)
    int64_t max_steps = 0;            // train.max_steps: optimizer steps; 0 = from epochs
    int64_t micro_batch = 4;          // train.micro_batch: rows per forward/backward per rank
    int64_t grad_accum = 1;           // train.grad_accum: micro-batches per optimizer step
    float lr = 2e-4f;                 // train.lr: peak learning rate
    std::string schedule = "cosine";  // train.schedule: cosine | linear | constant
    int64_t warmup_steps = 0;         // train.warmup_steps: linear warmup from 0
    float min_lr_ratio = 0.0f;        // train.min_lr_ratio: floor of cosine/linear decay, x lr
    float weight_decay = 0.0f;        // train.weight_decay: decoupled (AdamW)
    float beta1 = 0.9f;               // train.beta1
    float beta2 = 0.999f;             // train.beta2
    float eps = 1e-8f;                // train.eps
    float max_grad_norm = 1.0f;       // train.max_grad_norm: global-norm clipping; 0 = off
    bool activation_checkpointing = false;  // train.activation_checkpointing: recompute per layer
    bool activation_offload = true;  // train.activation_offload: MLP activations to host (GPU)
    // train.activation_offload_fraction: the share of layers offloaded; -1 = from the bus model
    double activation_offload_fraction = -1.0;
    std::string device = "auto";            // train.device: auto | cpu | cuda
    std::string matmul_precision = "bf16";  // train.matmul_precision: bf16 | tf32 | fp32 (GPU)
    bool gemm_autotune = false;  // train.gemm_autotune: time cuBLASLt candidates per shape (GPU)
    bool cuda_graphs = true;     // train.cuda_graphs: replay each step's kernels as a graph (GPU)
    int64_t eval_every = 0;      // train.eval_every: validation loss every N steps; 0 = at end
    int64_t log_every = 1;       // train.log_every: metrics.jsonl line every N steps
};

struct CheckpointConfig {
    int64_t every = 0;      // checkpoint.every: N steps; 0 = only at the end
    int64_t keep_last = 3;  // checkpoint.keep_last: older step dirs are removed
};

struct DistributedConfig {
    double bucket_mb = 25.0;  // distributed.bucket_mb: MiB per gradient all-reduce bucket
};

// The retrieval index rank 0 builds at the end of `qforge train` (docs/rag.md), so the adapter
// and the index it will be served with come from one job.
struct IndexConfig {
    std::string docs;            // index.docs: .txt/.md/.jsonl directory or file; "" = no index
    std::string out;             // index.out: index directory; "" = <run dir>/index
    std::string encoder;         // index.encoder: BERT-family encoder directory; "" = BM25 only
    int64_t chunk_tokens = 256;  // index.chunk_tokens
    int64_t overlap = 32;        // index.overlap
    std::string tokenizer;       // index.tokenizer: counts chunk tokens; "" = words
    std::string ann = "auto";    // index.ann: auto | exact | hnsw
};

struct TrainConfig {
    RunConfig run;
    ModelConfig model;
    LoraConfig lora;
    DataConfig data;
    OptimConfig train;
    CheckpointConfig checkpoint;
    DistributedConfig distributed;
    IndexConfig index;
};

}  // namespace qforge::train
