// What is here: the OpCase interface of the backend-ops harness (ggml's test-backend-ops
// `test_case`): a case declares its buffers with a role, fills its inputs, and runs one op on
// whatever backend the harness hands it. The runner lives in test_backend_ops.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/common.h"
#include "kernels/registry.h"

namespace qforge::test {

// What an op does with a buffer; it decides how the harness fills and judges it.
enum class Role {
    kInput,       // read only: must come back bit-identical
    kWrite,       // fully overwritten: pre-filled with NaN, so a skipped element stays NaN
    kAccumulate,  // += : pre-filled with random values; the comparison measures what was added
    kInOut,       // read, then rewritten in place (rope's x, gemm's C with beta != 0)
};

// One buffer of a case, with its host contents (4-byte elements: f32 or i32).
struct CaseTensor {
    std::string name;
    Role role = Role::kInput;
    kernels::DType dtype = kernels::DType::kF32;
    int64_t count = 0;
    float lo = -1.0f, hi = 1.0f;  // range of the default uniform init
    std::vector<float> f32;
    std::vector<int32_t> i32;
    bool u16 = false;  // an add_u16 tensor: 2 * count bf16 words
};

class CaseTensors {
public:
    CaseTensor& add(std::string name, Role role, int64_t count, float lo = -1.0f, float hi = 1.0f);
    // Integer inputs (ids, targets, positions, segments); the case fills them in init_inputs.
    CaseTensor& add_i32(std::string name, int64_t count);
    // A byte input (NF4 codes) of `bytes` bytes, held as ceil(bytes / 4) i32 words so that the
    // guards and the bit-identical input check work on it unchanged; see byte_data().
    CaseTensor& add_bytes(std::string name, int64_t bytes);
    // A tensor of `count` bf16 values (16-bit words), held like add_bytes; every word starts as
    // kU16Sentinel, which the harness never replaces (kWrite included), so a bit_exact case also
    // proves that what the op must leave alone (padding columns) is left alone. See u16_data().
    CaseTensor& add_u16(std::string name, Role role, int64_t count);
    CaseTensor& operator[](std::string_view name);
    const CaseTensor& operator[](std::string_view name) const;

    std::vector<CaseTensor>& all() { return tensors_; }

    const std::vector<CaseTensor>& all() const { return tensors_; }

private:
    std::vector<CaseTensor> tensors_;
};

// The bytes of an add_bytes tensor, for init_inputs to fill.
uint8_t* byte_data(CaseTensor& t);
// The 16-bit words of an add_u16 tensor.
uint16_t* u16_data(CaseTensor& t);
inline constexpr uint16_t kU16Sentinel = 0x5A5A;

// Backend pointers of one run, by tensor name, plus the host copy of every tensor's initial
// contents (for values an op takes by value, such as NF4's offset).
class CaseBindings {
public:
    explicit CaseBindings(const CaseTensors& host) : host_(host) {}

    void bind(std::string name, void* ptr) { ptrs_.emplace_back(std::move(name), ptr); }

    float* f(std::string_view name) const { return static_cast<float*>(find(name)); }

    int32_t* i(std::string_view name) const { return static_cast<int32_t*>(find(name)); }

    uint8_t* u8(std::string_view name) const { return static_cast<uint8_t*>(find(name)); }

    uint16_t* u16(std::string_view name) const { return static_cast<uint16_t*>(find(name)); }

    const CaseTensor& host(std::string_view name) const { return host_[name]; }

private:
    void* find(std::string_view name) const;
    const CaseTensors& host_;
    std::vector<std::pair<std::string, void*>> ptrs_;
};

class OpCase {
public:
    virtual ~OpCase() = default;
    virtual kernels::Op op() const = 0;
    // The shape and options, "N=5,C=33": with op_name it identifies the case in every message.
    virtual std::string vars() const = 0;
    std::string name() const;

    // Bound on the normalized mean squared error against the CPU reference (ggml: 1e-7 for
    // fp32); fused or reordered kernels may override it (STYLE item 6).
    virtual double max_err() const { return 1e-7; }

    // True when every backend must produce the CPU's outputs bit for bit (NF4 dequantization:
    // a table lookup and two roundings, nothing to reorder); max_err() is then not used.
    virtual bool bit_exact() const { return false; }

    // For a case that is not bit_exact, its bf16 (add_u16) outputs: every word must be within
    // one bf16 ulp of the CPU's (words the op leaves alone are then equal), or closer than
    // bf16_abs_floor() times the largest |CPU value| of that output (for values that an fp32
    // cancellation makes tiny; 0: no such floor).
    virtual double bf16_abs_floor() const { return 0.0; }

    // Declares every buffer: name, role, element count.
    virtual void build(CaseTensors& t) const = 0;
    // Fills inputs: f32 uniform in [lo, hi) (never zeros), kWrite with NaN, kAccumulate with
    // random values. Cases override it to fill integer inputs or to derive saved statistics
    // (rstd, lse) with the CPU reference; overrides call this first.
    virtual void init_inputs(CaseTensors& t, std::mt19937_64& rng) const;
    // Runs the op on ctx's backend with the bound pointers.
    virtual void run(const kernels::Ctx& ctx, const CaseBindings& b) const = 0;
};

using CaseList = std::vector<std::shared_ptr<const OpCase>>;

// Every case the harness runs (tests/kernels/backend_op_cases.cpp), which appends the lists of
// backend_op_cases_nf4.cpp, backend_op_cases_train.cpp, backend_op_cases_encoder.cpp and
// backend_op_cases_bf16.cpp, backend_op_cases_attention_bf16.cpp, backend_op_cases_lora.cpp.
CaseList make_backend_op_cases();
void add_nf4_cases(CaseList& cases);
void add_bf16_cases(CaseList& cases);
void add_train_cases(CaseList& cases);
void add_encoder_cases(CaseList& cases);
void add_attention_bf16_cases(CaseList& cases);
void add_rope_bf16_cases(CaseList& cases);  // backend_op_cases_rope_bf16.cpp
void add_lora_cases(CaseList& cases);       // backend_op_cases_lora.cpp

}  // namespace qforge::test
