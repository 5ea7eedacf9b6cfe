// What is here: Nf4Weight, the NF4 storage of one frozen (OC, IC) weight (kernels/nf4.h layout),
// made by quantizing at load time or read from / written to a bitsandbytes 4-bit checkpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/nf4.h"
#include "runtime/io/safetensors.h"
#include "runtime/tensor/tensor.h"

namespace qforge {

// Owns the storage of one quantized (OC, IC) weight: packed codes, absmax codes, nested absmax,
// the two code tables and the offset. Copies share the (immutable) storage.
//
// bitsandbytes checkpoint tensors of one weight "<prefix>.weight" (Linear4bit with
// bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True; blocksize 64, nested 256):
//   <prefix>.weight                               U8  [(numel + 1) / 2, 1]  packed codes
//   <prefix>.weight.absmax                        U8  [blocks]
//   <prefix>.weight.quant_map                     F32 [16]   the NF4 levels
//   <prefix>.weight.nested_absmax                 F32 [nested_blocks]
//   <prefix>.weight.nested_quant_map              F32 [256]  create_dynamic_map(signed=True)
//   <prefix>.weight.quant_state.bitsandbytes__nf4 U8  [len]  JSON: quant_type, blocksize, dtype,
//                                                  shape, nested_blocksize, nested_dtype,
//                                                  nested_offset
class Nf4Weight {
public:
    // From a 2-D f32/bf16/f16 CPU tensor (converted with Tensor::to_f32()).
    static Nf4Weight quantize(const Tensor& w);
    // weight_name is "<prefix>.weight"; every tensor above must be present and consistent.
    static Nf4Weight from_bnb(const io::CheckpointReader& ckpt, const std::string& weight_name);
    // The same tensors (names, dtypes, shapes and JSON bytes as bitsandbytes writes them), for
    // io::safetensors_write.
    std::vector<std::pair<std::string, Tensor>> to_bnb(const std::string& weight_name) const;

    int64_t rows() const { return rows_; }

    int64_t cols() const { return cols_; }

    kernels::Nf4View view() const;
    void dequantize(float* out) const;  // (rows, cols) fp32 on the CPU
    // Bytes of everything held: packed codes, absmax codes, nested absmax, both tables, offset.
    std::size_t storage_bytes() const;

private:
    Nf4Weight() = default;

    int64_t rows_ = 0, cols_ = 0;
    DType source_dtype_ = DType::kF32;  // the "dtype" of the quant state: what it dequantizes to
    Tensor packed_;                     // u8 [(numel + 1) / 2, 1]
    Tensor absmax_q_;                   // u8 [blocks]
    Tensor nested_absmax_;              // f32 [nested_blocks]
    Tensor code_;                       // f32 [16]
    Tensor nested_code_;                // f32 [256]
    float offset_ = 0.0f;
};

}  // namespace qforge
