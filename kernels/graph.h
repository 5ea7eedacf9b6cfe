// What is here: CUDA graphs of one stream's work, captured once and launched again, so that a
// training step's ~3,700 kernels go to the GPU in a few launches instead of one at a time (the
// host launch latency between dependent kernels adds up to ~10 ms in an 8B step). Work can be cut
// into several graphs with plain calls between them: the activation offload's copies, which in a
// graph ran ~15% slower on the H100 (47 against 55 GB/s device to host). Memsets in the captured
// work (ours, and the counters cuBLASLt clears before its cooperative GEMMs) become kernel nodes:
// a memset node left ~10 us of idle GPU before its dependent kernel on the H100. The CPU backend
// has no graphs: graph_supported() is false there and capture says so.
#pragma once

#include <functional>
#include <vector>

#include "kernels/common.h"

namespace qforge::kernels {

// True when this build can capture graphs on `device` (CUDA); the captured stream must be one of
// its own (kernels::Stream), not the legacy default stream.
bool graph_supported(Device device);

// Owns the graphs of one capture and the calls between them; move-only.
class StreamGraph {
public:
    StreamGraph() = default;
    ~StreamGraph();
    StreamGraph(StreamGraph&& other) noexcept;
    StreamGraph& operator=(StreamGraph&& other) noexcept;
    StreamGraph(const StreamGraph&) = delete;
    StreamGraph& operator=(const StreamGraph&) = delete;

    // Records what `queue` puts on ctx.stream (and on streams it forks from it through events,
    // which must join it again before the next cut or the end) without running it, replacing
    // what was held. Throws with the CUDA error when the work cannot be captured (e.g. a
    // synchronizing call inside `queue`), or what `queue` threw; either way nothing is held then.
    void capture(const Ctx& ctx, const std::function<void()>& queue);
    // Inside capture's `queue`: ends the graph so far and keeps `call` (not run now) to be run
    // between it and the next graph at each launch; the next graph begins.
    void cut(std::function<void()> call);

    bool capturing() const { return capturing_ != nullptr; }

    // Queues the captured graphs on ctx.stream, running the cut calls between them.
    void launch(const Ctx& ctx) const;

    bool captured() const { return !items_.empty() && capturing_ == nullptr; }

    // The memsets of what is held that run as kernel nodes (tests, logs).
    int memsets_as_kernels() const { return memsets_as_kernels_; }

    // Drops what was captured (its buffers' addresses are about to change, say).
    void reset() noexcept;

private:
    struct Item {
        void* exec = nullptr;  // cudaGraphExec_t, or nullptr for a call
        std::function<void()> call;
    };

    void end_segment();  // the graph since the last cut or the start, if it holds any work

    std::vector<Item> items_;
    void* capturing_ = nullptr;  // the stream being captured
    int memsets_as_kernels_ = 0;
};

}  // namespace qforge::kernels
