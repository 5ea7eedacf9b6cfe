// What is here: GemmMath, how the CUDA GEMM rounds its operands, and whether it autotunes. Kept
// apart from kernels/gemm.h (which pulls in fmt) so that kernels/cuda/*.cu can name them too.
#pragma once

namespace qforge::kernels {

// kTf32: TF32 tensor cores (operands rounded to 10-bit mantissas), fp32 accumulation; default.
// kFp32: exact fp32 arithmetic (CUDA cores), the CPU reference's precision.
// kBf16: operands rounded to bf16 into scratch, bf16 x bf16 tensor cores, fp32 accumulation and
//        fp32 C (what the model's matmuls use, DESIGN.md "Precision").
enum class GemmMath { kTf32, kFp32, kBf16 };

// Whether the CUDA backend times the cuBLASLt heuristic's top candidates the first time it meets
// a GEMM shape and keeps the fastest, or takes the heuristic's first pick (the default: the same
// algorithm in every process, so a resumed run or another rank repeats the same bits; timed
// choices can differ from process to process).
void set_cuda_gemm_autotune(bool on);
bool cuda_gemm_autotune();

}  // namespace qforge::kernels
