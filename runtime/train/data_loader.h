// What is here: DataLoader, which deals rows to ranks in a deterministic, resumable,
// reshuffled-per-epoch order and lays them out as (B, T) micro-batches.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/train/data.h"

namespace qforge::train {

// Every rank computes the same permutation of all N rows from (seed, epoch) and takes
// positions rank, rank + world, ... of it, so the ranks' shards are disjoint. A micro-batch is
// B consecutive rows of the shard; an optimizer step is `accum` micro-batches on every rank,
// i.e. the global batch G = B x accum x world consecutive positions of the permutation.
//
// The epoch tail is dropped by the global batch: an epoch is the first G * floor(N / G)
// positions, so every optimizer step lies inside one epoch and every layout with the same G
// (1 rank x accum 4, 2 ranks x accum 2, 4 ranks x accum 1, ...) reads the same rows in every
// step of every epoch; the last N mod G positions of each epoch's order are not read (another
// draw next epoch). With accum = 1 (the default) the tail is dropped by B x world only.
//
// The loader keeps a pointer to `rows`: they must outlive it (temporaries are refused).
class DataLoader {
public:
    DataLoader(const std::vector<Sequence>& rows, int64_t micro_batch, uint64_t seed, int rank = 0,
               int world = 1, int64_t accum = 1);
    DataLoader(std::vector<Sequence>&&, int64_t, uint64_t, int = 0, int = 1, int64_t = 1) = delete;

    struct Batch {
        int64_t B = 0, T = 0;
        std::vector<int32_t> input, targets, segment_ids, positions;  // (B, T) row-major

        // Adds one row at the end (B grows by one; T is the row's length).
        void append(const Sequence& row);
    };

    // The next micro-batch; after the last one of an epoch, starts the next epoch (reshuffled).
    Batch next();

    // Micro-batches per epoch on each rank: a multiple of accum.
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
