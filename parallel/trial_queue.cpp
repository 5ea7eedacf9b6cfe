// What is here: TrialQueue (see trial_queue.h).
//
// Protocol on a private duplicate of the world communicator: a remote lead sends an empty
// request (tag kRequest) to rank 0 and waits for one int (tag kReply): a trial index, or -1
// when the queue is empty, after which it asks no more. The coordinator thread polls with
// MPI_Iprobe and sleeps between polls, so it costs rank 0 almost no CPU while it trains.
#include "parallel/trial_queue.h"

#include <chrono>
#include <cstdio>
#include <exception>

#include "kernels/common.h"
#include "parallel/mpi_check.h"

namespace qforge::parallel {

namespace {
constexpr int kRequest = 1, kReply = 2;
}  // namespace

TrialQueue::TrialQueue(MPI_Comm world, const std::vector<int>& pending, int group_size,
                       bool threads)
    : group_size_(group_size) {
    QF_MPI_CHECK(MPI_Comm_dup(world, &comm_));
    QF_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    QF_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    QF_MPI_CHECK(MPI_Comm_size(comm_, &world_));
    QF_CHECK(group_size >= 1 && world_ % group_size == 0,
             "TrialQueue: group size {} does not divide the {} ranks", group_size, world_);
    groups_ = world_ / group_size;
    // Every rank learns the list and whether the queue is dynamic (rank 0 decides).
    int head[2] = {static_cast<int>(pending.size()), threads ? 1 : 0};
    QF_MPI_CHECK(MPI_Bcast(head, 2, MPI_INT, 0, comm_));
    pending_ = rank_ == 0 ? pending : std::vector<int>(static_cast<std::size_t>(head[0]));
    if (head[0] > 0) {
        QF_MPI_CHECK(MPI_Bcast(pending_.data(), head[0], MPI_INT, 0, comm_));
    }
    dynamic_ = head[1] == 1 && groups_ > 1;
    static_next_ = static_cast<std::size_t>(rank_ / group_size_);
    if (dynamic_ && rank_ == 0) {
        coordinator_ = std::thread([this] { serve(); });
    }
}

TrialQueue::~TrialQueue() {
    if (std::uncaught_exceptions() > 0) {
        // Left by an error on rank 0: the other leads may never ask again, so the coordinator
        // would never end. The caller ends the job (MPI_Abort); do not wait for it.
        if (coordinator_.joinable()) {
            coordinator_.detach();
        }
        return;
    }
    if (coordinator_.joinable()) {
        coordinator_.join();
    }
    if (comm_ != MPI_COMM_NULL) {
        MPI_Comm_free(&comm_);
    }
}

int TrialQueue::pop() {
    std::lock_guard<std::mutex> lock(mutex_);
    return front_ < pending_.size() ? pending_[front_++] : -1;
}

void TrialQueue::serve() {
    try {
        for (int done = 0; done < groups_ - 1;) {
            int flag = 0;
            MPI_Status status;
            QF_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kRequest, comm_, &flag, &status));
            if (!flag) {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
                continue;
            }
            QF_MPI_CHECK(MPI_Recv(nullptr, 0, MPI_INT, status.MPI_SOURCE, kRequest, comm_,
                                  MPI_STATUS_IGNORE));
            const int trial = pop();
            QF_MPI_CHECK(MPI_Send(&trial, 1, MPI_INT, status.MPI_SOURCE, kReply, comm_));
            done += trial < 0 ? 1 : 0;
        }
    } catch (const Error& e) {
        // Nobody can catch this on the coordinator thread: the job cannot go on without it.
        std::fprintf(stderr, "qforge: error on %s (sweep queue): %s\n", rank_and_host().c_str(),
                     e.what());
        MpiSession::abort_job(1);
    }
}

int TrialQueue::next() {
    QF_CHECK(rank_ % group_size_ == 0, "TrialQueue::next: rank {} does not lead a group", rank_);
    if (!dynamic_) {
        const std::size_t at = static_next_;
        static_next_ += static_cast<std::size_t>(groups_);
        return at < pending_.size() ? pending_[at] : -1;
    }
    if (rank_ == 0) {
        return pop();
    }
    int trial = -1;
    QF_MPI_CHECK(MPI_Send(nullptr, 0, MPI_INT, 0, kRequest, comm_));
    QF_MPI_CHECK(MPI_Recv(&trial, 1, MPI_INT, 0, kReply, comm_, MPI_STATUS_IGNORE));
    return trial;
}

}  // namespace qforge::parallel
