// What is here: QF_HOST_DEVICE, for the few inline functions that the CPU reference and the
// CUDA kernels share word for word (kernels/counter_hash.h, kernels/nf4_codes.h).
#pragma once

#ifdef __CUDACC__
#define QF_HOST_DEVICE __host__ __device__
#else
#define QF_HOST_DEVICE
#endif
