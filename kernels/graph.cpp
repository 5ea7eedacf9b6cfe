// What is here: kernels/graph.h. The CUDA branch exists only when this build has the backend.
#include "kernels/graph.h"

#include <cstddef>
#include <exception>
#include <utility>

#include "kernels/backend_error.h"
#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/graph_nodes.h"
#endif

namespace qforge::kernels {

#ifdef QFORGE_HAS_CUDA
using detail::cuda_check;
#else
using detail::no_cuda;
#endif

bool graph_supported(Device device) {
#ifdef QFORGE_HAS_CUDA
    return device == Device::kCuda;
#else
    (void)device;
    return false;
#endif
}

StreamGraph::~StreamGraph() {
    reset();
}

StreamGraph::StreamGraph(StreamGraph&& other) noexcept
    : items_(std::move(other.items_)),
      capturing_(std::exchange(other.capturing_, nullptr)),
      memsets_as_kernels_(std::exchange(other.memsets_as_kernels_, 0)) {
    other.items_.clear();
}

StreamGraph& StreamGraph::operator=(StreamGraph&& other) noexcept {
    if (this != &other) {
        reset();
        items_ = std::move(other.items_);
        other.items_.clear();
        capturing_ = std::exchange(other.capturing_, nullptr);
        memsets_as_kernels_ = std::exchange(other.memsets_as_kernels_, 0);
    }
    return *this;
}

void StreamGraph::reset() noexcept {
#ifdef QFORGE_HAS_CUDA
    for (const Item& item : items_) {
        if (item.exec != nullptr) {
            (void)cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(item.exec));  // noexcept
        }
    }
#endif
    items_.clear();
    memsets_as_kernels_ = 0;
}

#ifdef QFORGE_HAS_CUDA
namespace {

void begin_capture(void* stream) {
    // Relaxed: the captured code may call cudaFuncSetAttribute / cudaGetDevice* (first launches).
    cuda_check(
        cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeRelaxed),
        "cudaStreamBeginCapture");
}

}  // namespace
#endif

void StreamGraph::end_segment() {
#ifdef QFORGE_HAS_CUDA
    cudaGraph_t graph = nullptr;
    cuda_check(cudaStreamEndCapture(static_cast<cudaStream_t>(capturing_), &graph),
               "cudaStreamEndCapture (the captured work called something that cannot be "
               "captured, or left a forked stream unjoined)");
    try {
        memsets_as_kernels_ += cuda::memset_nodes_to_kernels(graph);
    } catch (...) {
        (void)cudaGraphDestroy(graph);
        throw;
    }
    std::size_t nodes = 0;
    cudaError_t err = cudaGraphGetNodes(graph, nullptr, &nodes);
    cudaGraphExec_t exec = nullptr;
    if (err == cudaSuccess && nodes > 0) {
        err = cudaGraphInstantiate(&exec, graph, 0);
    }
    (void)cudaGraphDestroy(graph);
    cuda_check(err, "cudaGraphInstantiate");
    if (exec != nullptr) {
        items_.push_back({exec, {}});
    }
#endif
}

void StreamGraph::capture(const Ctx& ctx, const std::function<void()>& queue) {
    QF_CHECK(graph_supported(ctx.device) && ctx.stream != nullptr,
             "graph capture needs the CUDA backend and a stream of its own");
    QF_CHECK(capturing_ == nullptr, "StreamGraph::capture: already capturing");
    reset();
#ifdef QFORGE_HAS_CUDA
    begin_capture(ctx.stream);
    capturing_ = ctx.stream;
    try {
        queue();
        end_segment();
        capturing_ = nullptr;
    } catch (...) {
        cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
        if (cudaStreamIsCapturing(static_cast<cudaStream_t>(capturing_), &status) == cudaSuccess &&
            status != cudaStreamCaptureStatusNone) {
            cudaGraph_t graph = nullptr;
            if (cudaStreamEndCapture(static_cast<cudaStream_t>(capturing_), &graph) ==
                    cudaSuccess &&
                graph != nullptr) {
                (void)cudaGraphDestroy(graph);
            }
        }
        (void)cudaGetLastError();  // clears the invalidated capture's error for later checks
        capturing_ = nullptr;
        reset();
        throw;
    }
#else
    (void)queue;
    no_cuda("StreamGraph::capture");
#endif
}

void StreamGraph::cut(std::function<void()> call) {
    QF_CHECK(capturing_ != nullptr, "StreamGraph::cut: not capturing");
#ifdef QFORGE_HAS_CUDA
    end_segment();
    items_.push_back({nullptr, std::move(call)});
    begin_capture(capturing_);
#else
    (void)call;
#endif
}

void StreamGraph::launch(const Ctx& ctx) const {
    QF_CHECK(captured(), "StreamGraph::launch: nothing was captured");
#ifdef QFORGE_HAS_CUDA
    for (const Item& item : items_) {
        if (item.exec == nullptr) {
            item.call();
            continue;
        }
        cuda_check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(item.exec),
                                   static_cast<cudaStream_t>(ctx.stream)),
                   "cudaGraphLaunch");
    }
#else
    (void)ctx;
    no_cuda("StreamGraph::launch");
#endif
}

}  // namespace qforge::kernels
