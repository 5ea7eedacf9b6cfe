// What is here: runtime/train/data_pack.h.
#include "runtime/train/data_pack.h"

#include <algorithm>

#include "kernels/common.h"

namespace qforge::train {
namespace {

// Max-tree over the free space of rows 0..n-1, so first-fit finds the leftmost row with room
// in O(log n) instead of scanning every open row (O(n^2) on large datasets).
class FreeSpaceTree {
public:
    FreeSpaceTree(size_t n, int64_t capacity) : leaves_(1) {
        while (leaves_ < n) {
            leaves_ *= 2;
        }
        tree_.assign(2 * leaves_, -1);  // -1: no row yet
        capacity_ = capacity;
    }

    // Index of the leftmost row with free space >= need, opening a new one if none has.
    size_t first_fit(int64_t need) {
        if (tree_[1] < need) {
            set(opened_, capacity_);
            return opened_++;
        }
        size_t node = 1;
        while (node < leaves_) {
            node = tree_[2 * node] >= need ? 2 * node : 2 * node + 1;
        }
        return node - leaves_;
    }

    void take(size_t row, int64_t used) { set(row, tree_[leaves_ + row] - used); }

private:
    void set(size_t row, int64_t free) {
        size_t node = leaves_ + row;
        tree_[node] = free;
        for (node /= 2; node >= 1; node /= 2) {
            tree_[node] = std::max(tree_[2 * node], tree_[2 * node + 1]);
        }
    }

    size_t leaves_;
    size_t opened_ = 0;
    int64_t capacity_ = 0;
    std::vector<int64_t> tree_;
};

}  // namespace

bool data_truncate(Example& example, int64_t T) {
    if (static_cast<int64_t>(example.tokens.size()) <= T) {
        return false;
    }
    example.tokens.resize(static_cast<size_t>(T));
    example.target_mask.resize(static_cast<size_t>(T));
    return true;
}

Sequence data_make_row(const std::vector<const Example*>& examples, int64_t T, int32_t pad_id) {
    Sequence row;
    row.input.reserve(static_cast<size_t>(T));
    int32_t segment = 0;
    for (const Example* ex : examples) {
        const size_t L = ex->tokens.size();
        QF_CHECK(ex->target_mask.size() == L, "{}: {} tokens but {} mask entries", ex->source, L,
                 ex->target_mask.size());
        for (size_t j = 0; j < L; ++j) {
            row.input.push_back(ex->tokens[j]);
            // Token j predicts token j+1 of the same example; the last one predicts nothing,
            // exactly as when the example is run alone.
            const bool has_target = j + 1 < L && ex->target_mask[j + 1] != 0;
            row.targets.push_back(has_target ? ex->tokens[j + 1] : kIgnoreIndex);
            row.segment_ids.push_back(segment);
            row.positions.push_back(static_cast<int32_t>(j));
        }
        ++segment;
    }
    QF_CHECK(static_cast<int64_t>(row.input.size()) <= T, "{} tokens do not fit a row of {}",
             row.input.size(), T);
    for (int32_t j = 0; static_cast<int64_t>(row.input.size()) < T; ++j) {
        row.input.push_back(pad_id);
        row.targets.push_back(kIgnoreIndex);
        row.segment_ids.push_back(segment);
        row.positions.push_back(j);
    }
    return row;
}

std::vector<Sequence> data_pack(const std::vector<Example>& examples, int64_t T, bool packing,
                                int32_t pad_id) {
    std::vector<std::vector<const Example*>> members;
    if (!packing) {
        for (const auto& ex : examples) {
            members.push_back({&ex});
        }
    } else {
        FreeSpaceTree free_space(examples.size(), T);
        for (const auto& ex : examples) {
            const auto L = static_cast<int64_t>(ex.tokens.size());
            QF_CHECK(L >= 1 && L <= T, "{}: {} tokens cannot be packed into rows of {}", ex.source,
                     L, T);
            const size_t row = free_space.first_fit(L);
            free_space.take(row, L);
            if (row == members.size()) {
                members.emplace_back();
            }
            members[row].push_back(&ex);
        }
    }
    std::vector<Sequence> rows;
    rows.reserve(members.size());
    for (const auto& m : members) {
        rows.push_back(data_make_row(m, T, pad_id));
    }
    return rows;
}

}  // namespace qforge::train
