// What is here: the host side of kernels/cuda/tma.cuh: tensor maps, encoded through the driver's
// cuTensorMapEncodeTiled (fetched from the runtime, so qforge does not link libcuda itself).
#include <cudaTypedefs.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/tma.cuh"

namespace qforge::kernels::cuda {

namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
    static const auto fn = [] {
        void* f = nullptr;
        cudaDriverEntryPointQueryResult found{};
        QF_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000,
                                                       cudaEnableDefault, &found));
        if (found != cudaDriverEntryPointSuccess || f == nullptr) {
            fail(__FILE__, __LINE__, "cudaGetDriverEntryPointByVersion",
                 "the driver has no cuTensorMapEncodeTiled (TMA needs CUDA 12 and sm_90)");
        }
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
    }();
    return fn;
}

}  // namespace

CUtensorMap make_bf16_tile_map(const void* ptr, int64_t B, int64_t rows, int64_t H, int64_t D,
                               int64_t bs, int64_t rs, int box_rows) {
    CUtensorMap map{};
    const cuuint64_t dims[4] = {static_cast<cuuint64_t>(D), static_cast<cuuint64_t>(H),
                                static_cast<cuuint64_t>(rows), static_cast<cuuint64_t>(B)};
    const cuuint64_t strides[3] = {static_cast<cuuint64_t>(D) * 2, static_cast<cuuint64_t>(rs) * 2,
                                   static_cast<cuuint64_t>(bs) * 2};  // bytes, dims 1..3
    const cuuint32_t box[4] = {64, 1, static_cast<cuuint32_t>(box_rows), 1};
    const cuuint32_t elem_strides[4] = {1, 1, 1, 1};
    const CUresult r = encode_tiled()(
        &map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<void*>(ptr), dims, strides, box,
        elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
        CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
        fail(__FILE__, __LINE__, "cuTensorMapEncodeTiled",
             "could not describe a bf16 attention operand (alignment or strides)");
    }
    return map;
}

}  // namespace qforge::kernels::cuda
