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
#include "kernels/gemm_math.h"

namespace qforge::kernels::cuda {

namespace {

constexpr int kMaxDevices = 64;
constexpr int kAutotuneCandidates = 8;  // heuristic results timed per new plan
constexpr int kAutotuneRepeats = 3;     // timed runs per candidate, after one warm-up

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

// Runs the matmul of plan with algorithm algo, writing d (C, or c_in, is read when beta != 0).
cublasStatus_t run_algo(cublasLtHandle_t handle, const Plan& plan, const LtMatmul& mm,
                        const cublasLtMatmulAlgo_t& algo, void* d, void* workspace,
                        cudaStream_t stream) {
    const void* c_in = mm.c_in != nullptr ? mm.c_in : mm.C;
    return cublasLtMatmul(handle, plan.desc, &mm.alpha, mm.A, plan.a, mm.B, plan.b, &mm.beta, c_in,
                          plan.c, d, plan.c, &algo, workspace, kCublasWorkspaceBytes, stream);
}

// True for a split-K algorithm that would sum its partial products in a bf16 output (in place or
// in the output type): each partial would be rounded, not only the result.
bool rounds_partial_sums(const cublasLtMatmulAlgo_t& algo, cudaDataType_t c_type) {
    if (c_type != CUDA_R_16BF) {
        return false;
    }
    uint32_t splits = 1, scheme = CUBLASLT_REDUCTION_SCHEME_NONE;
    std::size_t written = 0;
    QF_CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
                                                         &splits, sizeof(splits), &written));
    QF_CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(
        &algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &scheme, sizeof(scheme), &written));
    return splits > 1 && scheme != CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
}

// The heuristic's first pick is often not the fastest for a given shape (up to ~10% at the train
// step's shapes), so each candidate is timed once on the call's own operands, its output going to
// a temporary buffer (C is only read). Where that buffer cannot be had, the first pick stands.
cublasLtMatmulAlgo_t fastest_algo(cublasLtHandle_t handle, const Plan& plan, const LtMatmul& mm,
                                  cudaStream_t stream,
                                  const cublasLtMatmulHeuristicResult_t* candidates, int count) {
    const std::size_t elem = mm.c_type == CUDA_R_16BF ? 2 : 4;
    const auto bytes = static_cast<std::size_t>(mm.ldc * (mm.n - 1) + mm.m) * elem;
    void* d = nullptr;
    if (cudaMallocAsync(&d, bytes, stream) != cudaSuccess) {
        (void)cudaGetLastError();  // out of memory: keep the heuristic's pick
        return candidates[0].algo;
    }
    void* workspace = stream_scratch(stream, ScratchSlot::kCublasWorkspace, kCublasWorkspaceBytes);
    cudaEvent_t start = nullptr, stop = nullptr;
    QF_CUDA_CHECK(cudaEventCreate(&start));
    QF_CUDA_CHECK(cudaEventCreate(&stop));
    int best = -1;  // none timed yet
    float best_ms = 0.0f;
    for (int i = 0; i < count; ++i) {
        const auto& algo = candidates[i].algo;
        if (i > 0 && rounds_partial_sums(algo, mm.c_type)) {
            continue;
        }
        if (run_algo(handle, plan, mm, algo, d, workspace, stream) != CUBLAS_STATUS_SUCCESS) {
            continue;  // warm-up; an algorithm that refuses the operands is skipped
        }
        QF_CUDA_CHECK(cudaEventRecord(start, stream));
        for (int rep = 0; rep < kAutotuneRepeats; ++rep) {
            QF_CUBLAS_CHECK(run_algo(handle, plan, mm, algo, d, workspace, stream));
        }
        QF_CUDA_CHECK(cudaEventRecord(stop, stream));
        QF_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0.0f;
        QF_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        if (best < 0 || ms < best_ms) {
            best = i;
            best_ms = ms;
        }
    }
    QF_CUDA_CHECK(cudaEventDestroy(start));
    QF_CUDA_CHECK(cudaEventDestroy(stop));
    QF_CUDA_CHECK(cudaFreeAsync(d, stream));
    return candidates[std::max(best, 0)].algo;
}

Plan make_plan(cublasLtHandle_t handle, const LtMatmul& mm, cudaStream_t stream, int64_t align_a,
               int64_t align_b, int64_t align_c) {
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
    std::array<cublasLtMatmulHeuristicResult_t, kAutotuneCandidates> results{};
    int found = 0;
    const int wanted = cuda_gemm_autotune() ? kAutotuneCandidates : 1;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(
        handle, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, wanted, results.data(), &found);
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
    plan.algo =
        found > 1 ? fastest_algo(handle, plan, mm, stream, results.data(), found) : results[0].algo;
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
            it = plans()
                     .emplace(key, make_plan(handle, mm, static_cast<cudaStream_t>(stream), align_a,
                                             align_b, align_c))
                     .first;
        }
        plan = it->second;
    }
    void* workspace = stream_scratch(stream, ScratchSlot::kCublasWorkspace, kCublasWorkspaceBytes);
    QF_CUBLAS_CHECK(
        run_algo(handle, plan, mm, plan.algo, mm.C, workspace, static_cast<cudaStream_t>(stream)));
}

}  // namespace qforge::kernels::cuda
