// What is here: parallel/device_memory.h, with CUDA (QFORGE_HAS_CUDA) or as stubs.
#include "parallel/device_memory.h"

#include "kernels/common.h"
#include "parallel/cuda_check.h"

namespace qforge::parallel {

#ifdef QFORGE_HAS_CUDA

bool cuda_built() {
    return true;
}

int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();  // no driver or no GPU: not an error here
        return 0;
    }
    return n;
}

DeviceFloats::DeviceFloats(int64_t n) : n_(n) {
    QF_CHECK(n >= 0, "DeviceFloats: size must be >= 0, got {}", n);
    QF_CUDA_CALL(cudaMalloc(reinterpret_cast<void**>(&data_),
                            static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float)));
}

DeviceFloats::~DeviceFloats() {
    cudaFree(data_);
}

void DeviceFloats::upload(const float* host) {
    QF_CUDA_CALL(
        cudaMemcpy(data_, host, static_cast<size_t>(n_) * sizeof(float), cudaMemcpyHostToDevice));
}

void DeviceFloats::download(float* host) const {
    QF_CUDA_CALL(
        cudaMemcpy(host, data_, static_cast<size_t>(n_) * sizeof(float), cudaMemcpyDeviceToHost));
}

PinnedStaging::~PinnedStaging() {
    cudaFreeHost(host_);
}

float* PinnedStaging::from_device(const float* device, int64_t n) {
    if (n > capacity_) {
        QF_CUDA_CALL(cudaFreeHost(host_));
        host_ = nullptr;
        capacity_ = 0;
        QF_CUDA_CALL(cudaMallocHost(reinterpret_cast<void**>(&host_),
                                    static_cast<size_t>(n) * sizeof(float)));
        capacity_ = n;
    }
    QF_CUDA_CALL(
        cudaMemcpy(host_, device, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToHost));
    return host_;
}

void PinnedStaging::to_device(float* device, int64_t n) const {
    QF_CHECK(n <= capacity_, "PinnedStaging::to_device: {} floats, staged {}", n, capacity_);
    QF_CUDA_CALL(
        cudaMemcpy(device, host_, static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice));
}

#else  // no CUDA in this build

namespace {
[[noreturn]] void no_cuda(const char* what) {
    QF_FAIL("{}: qforge was built without CUDA (no nvcc found at configure time)", what);
}
}  // namespace

bool cuda_built() {
    return false;
}

int cuda_device_count() {
    return 0;
}

DeviceFloats::DeviceFloats(int64_t) {
    no_cuda("DeviceFloats");
}

DeviceFloats::~DeviceFloats() = default;

void DeviceFloats::upload(const float*) {
    no_cuda("DeviceFloats::upload");
}

void DeviceFloats::download(float*) const {
    no_cuda("DeviceFloats::download");
}

PinnedStaging::~PinnedStaging() = default;

float* PinnedStaging::from_device(const float*, int64_t) {
    no_cuda("PinnedStaging::from_device");
}

void PinnedStaging::to_device(float*, int64_t) const {
    no_cuda("PinnedStaging::to_device");
}

#endif

}  // namespace qforge::parallel
