// What is here: DataLoader, which deals rows to ranks in a deterministic, resumable,
// reshuffled-per-epoch order and lays them out as (B, T) micro-batches.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/train/data.h"

namespace qforge::train {

// Every rank computes the same permutation of all N rows from (seed, epoch) and takes
// positions rank, rank + world, ... of it, so the ranks' shards are disjoint and together
// are the first world * (N / world) rows of that order. A micro-batch is B consecutive rows
// of the shard; the ragged tail (fewer than B rows, or the rows beyond world * (N / world))
// is dropped so that all ranks take the same number of steps.
//
// The loader keeps a pointer to `rows`: they must outlive it (temporaries are refused).
class DataLoader {
public:
    DataLoader(const std::vector<Sequence>& rows, int64_t micro_batch, uint64_t seed, int rank = 0,
               int world = 1);
    DataLoader(std::vector<Sequence>&&, int64_t, uint64_t, int = 0, int = 1) = delete;

    struct Batch {
        int64_t B = 0, T = 0;
        std::vector<int32_t> input, targets, segment_ids, positions;  // (B, T) row-major

        // Adds one row at the end (B grows by one; T is the row's length).
        void append(const Sequence& row);
    };

    // The next micro-batch; after the last one of an epoch, starts the next epoch (reshuffled).
    Batch next();

    int64_t steps_per_epoch() const { return steps_per_epoch_; }

    // Where the next call to next() reads: enough to resume the exact same order.
    struct State {
        int64_t epoch = 0, cursor = 0;  // cursor: micro-batches already taken in `epoch`
    };

    State state() const { return state_; }

    void restore(const State& state);

private:
    void shuffle_for_epoch();

    const std::vector<Sequence>* rows_;
    int64_t B_, T_;
    uint64_t seed_;
    int rank_, world_;
    int64_t steps_per_epoch_;
    State state_;
    int64_t order_epoch_ = -1;  // the epoch `order_` was drawn for
    std::vector<int64_t> order_;
};

}  // namespace qforge::train
