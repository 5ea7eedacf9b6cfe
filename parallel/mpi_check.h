// What is here: QF_MPI_CHECK, which turns a failed MPI call into a qforge::Error naming the
// call, the rank and the host (with 16 ranks, "which node" is the first question).
#pragma once

#include <string>

#include <mpi.h>

#include "kernels/common.h"
#include "parallel/mpi_collective.h"

namespace qforge::parallel {

[[noreturn]] void mpi_fail(int code, const char* call, const char* file, int line);

}  // namespace qforge::parallel

#define QF_MPI_CHECK(call)                                                      \
    do {                                                                        \
        const int qf_mpi_rc = (call);                                           \
        if (qf_mpi_rc != MPI_SUCCESS) {                                         \
            ::qforge::parallel::mpi_fail(qf_mpi_rc, #call, __FILE__, __LINE__); \
        }                                                                       \
    } while (0)
