// What is here: run_or_abort_job, the error rule every multi-rank command follows: an error on
// one rank of a job with several ranks is printed with that rank's name and host and ends the
// whole job (the other ranks would otherwise wait forever in a collective or barrier); with one
// rank the error propagates as it is, for main() to report.
#pragma once

#include <cstdio>
#include <utility>

#include "kernels/common.h"
#include "parallel/mpi_collective.h"

namespace qforge::launcher {

template <class Fn>
decltype(auto) run_or_abort_job(bool several_ranks, Fn&& fn) {
    try {
        return std::forward<Fn>(fn)();
    } catch (const Error& e) {
        if (several_ranks) {
            std::fprintf(stderr, "qforge: error on %s: %s\n", parallel::rank_and_host().c_str(),
                         e.what());
            parallel::MpiSession::abort_job(1);
        }
        throw;
    }
}

}  // namespace qforge::launcher
