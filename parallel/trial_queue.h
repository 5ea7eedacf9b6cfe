// What is here: TrialQueue, the work queue of a sweep: rank 0 hands out trial indices to the
// group leads one at a time, as groups free up, over MPI point-to-point messages. Rank 0 also
// trains: a coordinator thread on rank 0 answers the other leads' requests (this needs
// MPI_THREAD_MULTIPLE), while rank 0's main thread takes its own group's trials from the same
// queue directly. Without MPI_THREAD_MULTIPLE the queue falls back to a static round-robin.
#pragma once

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <mpi.h>

namespace qforge::parallel {

class TrialQueue {
public:
    // Collective over `world`. `pending` (read on rank 0 only) is the trials to hand out, in
    // order. Groups are `group_size` consecutive ranks of `world`; the lead of a group is its
    // first rank. `threads` says whether MPI runs with MPI_THREAD_MULTIPLE (else: static
    // round-robin, group g takes pending[g], pending[g + groups], ...).
    TrialQueue(MPI_Comm world, const std::vector<int>& pending, int group_size, bool threads);
    ~TrialQueue();
    TrialQueue(const TrialQueue&) = delete;
    TrialQueue& operator=(const TrialQueue&) = delete;

    // Group leads only: the next trial for this group, or -1 when there is none left.
    int next();

    // Which way trials are handed out, for the log: "work queue" or "static round-robin".
    const char* mode() const { return dynamic_ ? "work queue" : "static round-robin"; }

private:
    int pop();     // rank 0: the front of the queue, or -1
    void serve();  // rank 0's coordinator thread: answer every remote lead until each got -1
    MPI_Comm comm_ = MPI_COMM_NULL;  // a duplicate of `world`: queue messages stay apart
    int rank_ = 0, world_ = 1, group_size_ = 1, groups_ = 1;
    bool dynamic_ = false;
    std::vector<int> pending_;  // rank 0 (dynamic), every rank (static)
    std::size_t front_ = 0;     // dynamic: next index of pending_ to hand out
    std::size_t static_next_ = 0;
    std::mutex mutex_;
    std::thread coordinator_;
};

}  // namespace qforge::parallel
