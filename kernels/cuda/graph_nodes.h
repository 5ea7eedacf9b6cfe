// What is here: rewrites of a captured CUDA graph before it is instantiated (kernels/graph.cpp).
// Plain declarations only, like pointwise.h (`graph` is a cudaGraph_t passed as void*).
#pragma once

namespace qforge::kernels::cuda {

// Replaces every memset node of `graph` by a kernel node that writes the same bytes, with the
// same edges in and out; returns how many it replaced. On the H100 a memset node costs ~10 us
// of idle GPU before the kernel that depends on it (cuBLASLt clears a 4-byte counter before
// each of its cooperative GEMMs: ~4 ms of an 8B training step); a kernel node ~1-2 us.
int memset_nodes_to_kernels(void* graph);

}  // namespace qforge::kernels::cuda
