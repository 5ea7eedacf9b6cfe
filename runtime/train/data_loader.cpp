// What is here: runtime/train/data_loader.h.
#include "runtime/train/data_loader.h"

#include "kernels/common.h"
#include "runtime/train/data_shuffle.h"

namespace qforge::train {

DataLoader::DataLoader(const std::vector<Sequence>& rows, int64_t micro_batch, uint64_t seed,
                       int rank, int world, int64_t accum)
    : rows_(&rows), B_(micro_batch), T_(0), seed_(seed), rank_(rank), world_(world) {
    QF_CHECK(world >= 1, "DataLoader: world size must be >= 1, got {}", world);
    QF_CHECK(rank >= 0 && rank < world, "DataLoader: rank {} is outside 0..{}", rank, world - 1);
    QF_CHECK(micro_batch >= 1, "DataLoader: micro_batch must be >= 1, got {}", micro_batch);
    QF_CHECK(accum >= 1, "DataLoader: grad_accum must be >= 1, got {}", accum);
    QF_CHECK(!rows.empty(), "DataLoader: no rows to load");
    T_ = static_cast<int64_t>(rows.front().input.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        const Sequence& r = rows[i];
        const auto t = static_cast<size_t>(T_);
        QF_CHECK(r.input.size() == t && r.targets.size() == t && r.segment_ids.size() == t &&
                     r.positions.size() == t,
                 "DataLoader: row {} does not have T = {} entries in every field", i, T_);
    }
    const auto n = static_cast<int64_t>(rows.size());
    const int64_t global_batch = B_ * accum * world;  // rows per optimizer step
    steps_per_epoch_ = n / global_batch * accum;
    if (accum == 1) {
        QF_CHECK(steps_per_epoch_ >= 1,
                 "DataLoader: {} rows cannot fill one micro-batch of {} on each of {} ranks "
                 "(need at least {})",
                 n, B_, world, global_batch);
    }
    QF_CHECK(steps_per_epoch_ >= 1,
             "DataLoader: {} rows cannot fill one global batch of {} rows (micro_batch {} x "
             "grad_accum {} x {} ranks)",
             n, global_batch, B_, accum, world);
}

void DataLoader::shuffle_for_epoch() {
    if (order_epoch_ != state_.epoch) {
        order_ = data_permutation(static_cast<int64_t>(rows_->size()),
                                  data_mix_seed(seed_, static_cast<uint64_t>(state_.epoch)));
        order_epoch_ = state_.epoch;
    }
}

void DataLoader::Batch::append(const Sequence& row) {
    T = static_cast<int64_t>(row.input.size());
    input.insert(input.end(), row.input.begin(), row.input.end());
    targets.insert(targets.end(), row.targets.begin(), row.targets.end());
    segment_ids.insert(segment_ids.end(), row.segment_ids.begin(), row.segment_ids.end());
    positions.insert(positions.end(), row.positions.begin(), row.positions.end());
    ++B;
}

DataLoader::Batch DataLoader::next() {
    shuffle_for_epoch();
    Batch batch;
    const auto BT = static_cast<size_t>(B_ * T_);
    batch.input.reserve(BT);
    batch.targets.reserve(BT);
    batch.segment_ids.reserve(BT);
    batch.positions.reserve(BT);
    for (int64_t b = 0; b < B_; ++b) {
        const int64_t shard_index = state_.cursor * B_ + b;  // row of this rank's shard
        const int64_t position = shard_index * world_ + rank_;
        batch.append((*rows_)[static_cast<size_t>(order_[static_cast<size_t>(position)])]);
    }
    if (++state_.cursor == steps_per_epoch_) {
        state_.cursor = 0;
        ++state_.epoch;
    }
    return batch;
}

void DataLoader::restore(const State& state) {
    QF_CHECK(state.epoch >= 0, "DataLoader::restore: epoch {} is negative", state.epoch);
    QF_CHECK(state.cursor >= 0 && state.cursor < steps_per_epoch_,
             "DataLoader::restore: cursor {} is outside 0..{} (steps per epoch for this "
             "dataset, micro_batch and world size)",
             state.cursor, steps_per_epoch_ - 1);
    state_ = state;
}

}  // namespace qforge::train
