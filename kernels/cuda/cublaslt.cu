// What is here: kernels/cuda/cublaslt.h. Plans (descriptors, layouts, chosen algorithm) are built
// once per key and kept for the life of the process behind one mutex; the matmul itself runs
// outside the lock.
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <mutex>
#include <tuple>

#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/cublaslt.h"
#include "kernels/cuda/scratch.h"

namespace qforge::kernels::cuda {

namespace {

constexpr int kMaxDevices = 64;

std::mutex& lt_mutex() {
    static std::mutex m;
    return m;
}

cublasLtHandle_t lt_handle(int device) {
    static std::array<cublasLtHandle_t, kMaxDevices> handles{};
    if (device < 0 || device >= kMaxDevices) {
        fail(__FILE__, __LINE__, "cublaslt_matmul", "device index out of range (>= 64)");
    }
    if (handles[device] == nullptr) {
        QF_CUBLAS_CHECK(cublasLtCreate(&handles[device]));
    }
    return handles[device];
}

// The largest power of two (up to 256) that divides the address: what the kernels may assume.
int64_t alignment_of(const void* ptr) {
    const auto addr = reinterpret_cast<std::uintptr_t>(ptr);
    int64_t align = 256;
    while (align > 1 && addr % static_cast<std::uintptr_t>(align) != 0) {
        align /= 2;
    }
    return align;
}

using PlanKey = std::tuple<int, int, int, int, bool, bool, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t, int64_t, int64_t, int64_t, bool>;

struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
};

// Never destroyed: plans live as long as the process.
std::map<PlanKey, Plan>& plans() {
    static auto* p = new std::map<PlanKey, Plan>();
    return *p;
}

Plan make_plan(cublasLtHandle_t handle, const LtMatmul& mm, int64_t align_a, int64_t align_b,
               int64_t align_c) {
    Plan plan;
    QF_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, mm.compute, CUDA_R_32F));
    const cublasOperation_t op_a = mm.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = mm.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    QF_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a,
                                                   sizeof(op_a)));
    QF_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b,
                                                   sizeof(op_b)));
    // Stored shapes (before op), column-major.
    const uint64_t a_rows = static_cast<uint64_t>(mm.trans_a ? mm.k : mm.m);
    const uint64_t a_cols = static_cast<uint64_t>(mm.trans_a ? mm.m : mm.k);
    const uint64_t b_rows = static_cast<uint64_t>(mm.trans_b ? mm.n : mm.k);
    const uint64_t b_cols = static_cast<uint64_t>(mm.trans_b ? mm.k : mm.n);
    QF_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, mm.ab_type, a_rows, a_cols, mm.lda));
    QF_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.b, mm.ab_type, b_rows, b_cols, mm.ldb));
    QF_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.c, mm.c_type, static_cast<uint64_t>(mm.m),
                                               static_cast<uint64_t>(mm.n), mm.ldc));

    cublasLtMatmulPreference_t pref = nullptr;
    QF_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = kCublasWorkspaceBytes;
    const auto ua = static_cast<uint32_t>(align_a);
    const auto ub = static_cast<uint32_t>(align_b);
    const auto uc = static_cast<uint32_t>(align_c);
    QF_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    QF_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &ua, sizeof(ua)));
    QF_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ub, sizeof(ub)));
    QF_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &uc, sizeof(uc)));
    QF_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &uc, sizeof(uc)));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(
        handle, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1, &result, &found);
    QF_CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
        char what[256];
        std::snprintf(what, sizeof(what),
                      "cublasLtMatmulAlgoGetHeuristic(m=%lld, n=%lld, k=%lld, lda=%lld, "
                      "ldb=%lld, ldc=%lld)",
                      static_cast<long long>(mm.m), static_cast<long long>(mm.n),
                      static_cast<long long>(mm.k), static_cast<long long>(mm.lda),
                      static_cast<long long>(mm.ldb), static_cast<long long>(mm.ldc));
        fail(__FILE__, __LINE__, what,
             st != CUBLAS_STATUS_SUCCESS ? cublasLtGetStatusString(st)
                                         : "no algorithm for this shape and alignment");
    }
    plan.algo = result.algo;
    return plan;
}

}  // namespace

void cublaslt_matmul(void* stream, const LtMatmul& mm) {
    int device = 0;
    QF_CUDA_CHECK(cudaGetDevice(&device));
    const int64_t align_a = alignment_of(mm.A);
    const int64_t align_b = alignment_of(mm.B);
    const void* c_in = mm.c_in != nullptr ? mm.c_in : mm.C;
    const int64_t align_c = std::min(alignment_of(mm.C), alignment_of(c_in));
    const PlanKey key{device,
                      static_cast<int>(mm.ab_type),
                      static_cast<int>(mm.c_type),
                      static_cast<int>(mm.compute),
                      mm.trans_a,
                      mm.trans_b,
                      mm.m,
                      mm.n,
                      mm.k,
                      mm.lda,
                      mm.ldb,
                      mm.ldc,
                      align_a,
                      align_b,
                      align_c,
                      mm.beta == 0.0f};
    cublasLtHandle_t handle = nullptr;
    Plan plan;
    {
        const std::lock_guard<std::mutex> lock(lt_mutex());
        handle = lt_handle(device);
        auto it = plans().find(key);
        if (it == plans().end()) {
            it = plans().emplace(key, make_plan(handle, mm, align_a, align_b, align_c)).first;
        }
        plan = it->second;
    }
    void* workspace = stream_scratch(stream, ScratchSlot::kCublasWorkspace, kCublasWorkspaceBytes);
    QF_CUBLAS_CHECK(cublasLtMatmul(handle, plan.desc, &mm.alpha, mm.A, plan.a, mm.B, plan.b,
                                   &mm.beta, c_in, plan.c, mm.C, plan.c, &plan.algo, workspace,
                                   kCublasWorkspaceBytes, static_cast<cudaStream_t>(stream)));
}

}  // namespace qforge::kernels::cuda
