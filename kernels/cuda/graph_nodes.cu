// What is here: kernels/cuda/graph_nodes.h, and the kernel that stands in for a memset node.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/graph_nodes.h"

namespace qforge::kernels::cuda {

namespace {

// A memset of elementSize 1, 2 or 4 starts every element at a multiple of its size, so the byte
// at any address a is byte (a mod 4) of the value repeated to 32 bits (little endian).
uint32_t repeated_word(unsigned value, unsigned element_size) {
    switch (element_size) {
        case 1:
            return (value & 0xffu) * 0x01010101u;
        case 2:
            return (value & 0xffffu) * 0x00010001u;
        default:
            return value;
    }
}

__device__ unsigned char byte_at(uint32_t word, uintptr_t address) {
    return static_cast<unsigned char>(word >> (8 * (address & 3u)));
}

// rows rows of row_bytes bytes, pitch bytes apart: bytes up to a 16-byte boundary, then 16-byte
// stores, then the rest. blockIdx.y walks the rows.
__global__ void memset_node_kernel(unsigned char* dst, std::size_t pitch, std::size_t row_bytes,
                                   std::size_t rows, uint32_t word) {
    const std::size_t tid = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
    const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t row = blockIdx.y; row < rows; row += gridDim.y) {
        unsigned char* p = dst + row * pitch;
        const auto start = reinterpret_cast<uintptr_t>(p);
        const std::size_t head = (16 - (start & 15u)) & 15u;
        if (head >= row_bytes) {
            if (tid < row_bytes) {
                p[tid] = byte_at(word, start + tid);
            }
            continue;
        }
        const std::size_t body = (row_bytes - head) / 16;
        const std::size_t tail = head + body * 16;
        if (tid < head) {
            p[tid] = byte_at(word, start + tid);
        }
        auto* v = reinterpret_cast<uint4*>(p + head);
        for (std::size_t i = tid; i < body; i += stride) {
            v[i] = make_uint4(word, word, word, word);
        }
        if (tid < row_bytes - tail) {
            p[tail + tid] = byte_at(word, start + tail + tid);
        }
    }
}

std::vector<cudaGraphNode_t> nodes_of(cudaGraph_t graph) {
    std::size_t n = 0;
    QF_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &n));
    std::vector<cudaGraphNode_t> nodes(n);
    QF_CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &n));
    nodes.resize(n);
    return nodes;
}

struct Edges {
    std::vector<cudaGraphNode_t> nodes;
    std::vector<cudaGraphEdgeData> data;
};

// A node's edges in (cudaGraphNodeGetDependencies) or out (cudaGraphNodeGetDependentNodes), with
// their data (ports, type), which the replacement's edges keep.
using EdgeQuery = cudaError_t (*)(cudaGraphNode_t, cudaGraphNode_t*, cudaGraphEdgeData*,
                                  std::size_t*);

Edges edges_of(cudaGraphNode_t node, EdgeQuery query) {
    std::size_t n = 0;
    QF_CUDA_CHECK(query(node, nullptr, nullptr, &n));
    Edges e{std::vector<cudaGraphNode_t>(n), std::vector<cudaGraphEdgeData>(n)};
    QF_CUDA_CHECK(query(node, e.nodes.data(), e.data.data(), &n));
    return e;
}

cudaGraphNode_t add_memset_kernel(cudaGraph_t graph, const cudaMemsetParams& m) {
    auto* dst = static_cast<unsigned char*>(m.dst);
    std::size_t pitch = m.pitch;
    std::size_t row_bytes = m.width * m.elementSize;
    std::size_t rows = m.height;
    const uint32_t word = repeated_word(m.value, m.elementSize);
    constexpr unsigned kThreads = 256;
    // ~16 stores a thread on large rows, at most 1,024 blocks across
    const std::size_t chunks = row_bytes / 16 + 1;
    const std::size_t want = (chunks + kThreads * 16 - 1) / (kThreads * 16);
    const dim3 grid(static_cast<unsigned>(want < 1024 ? want : 1024),
                    static_cast<unsigned>(rows < 65535 ? rows : 65535));
    void* args[] = {&dst, &pitch, &row_bytes, &rows, const_cast<uint32_t*>(&word)};
    cudaKernelNodeParams p{};
    p.func = reinterpret_cast<void*>(memset_node_kernel);
    p.gridDim = grid;
    p.blockDim = dim3(kThreads);
    p.sharedMemBytes = 0;
    p.kernelParams = args;
    p.extra = nullptr;
    cudaGraphNode_t node = nullptr;
    QF_CUDA_CHECK(cudaGraphAddKernelNode(&node, graph, nullptr, 0, &p));
    return node;
}

}  // namespace

int memset_nodes_to_kernels(void* graph_ptr) {
    auto graph = static_cast<cudaGraph_t>(graph_ptr);
    int replaced = 0;
    for (cudaGraphNode_t node : nodes_of(graph)) {
        cudaGraphNodeType type{};
        QF_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
        if (type != cudaGraphNodeTypeMemset) {
            continue;
        }
        cudaMemsetParams m{};
        QF_CUDA_CHECK(cudaGraphMemsetNodeGetParams(node, &m));
        if (m.width == 0 || m.height == 0) {
            continue;
        }
        const Edges in = edges_of(node, cudaGraphNodeGetDependencies);
        const Edges out = edges_of(node, cudaGraphNodeGetDependentNodes);
        const cudaGraphNode_t kernel = add_memset_kernel(graph, m);
        if (!in.nodes.empty()) {
            const std::vector<cudaGraphNode_t> to(in.nodes.size(), kernel);
            QF_CUDA_CHECK(cudaGraphAddDependencies(graph, in.nodes.data(), to.data(),
                                                   in.data.data(), in.nodes.size()));
        }
        if (!out.nodes.empty()) {
            const std::vector<cudaGraphNode_t> from(out.nodes.size(), kernel);
            QF_CUDA_CHECK(cudaGraphAddDependencies(graph, from.data(), out.nodes.data(),
                                                   out.data.data(), out.nodes.size()));
        }
        QF_CUDA_CHECK(cudaGraphDestroyNode(node));
        ++replaced;
    }
    return replaced;
}

}  // namespace qforge::kernels::cuda
