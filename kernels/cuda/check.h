// What is here: the one way CUDA code reports a failure (a failed CUDA/cuBLASLt call, a bad
// launch), as a qforge::Error. Declared without fmt or CUDA headers so .cu files can use it.
#pragma once

namespace qforge::kernels::cuda {

// Throws qforge::Error("<what> failed at <file>:<line>: <detail>").
[[noreturn]] void fail(const char* file, int line, const char* what, const char* detail);

}  // namespace qforge::kernels::cuda
