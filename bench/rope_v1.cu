// What is here: version 1 of the bf16 RoPE kernels for bench/norm_rope_cuda_bench.cpp: those of
// kernels/cuda/rope.cu at 3364e12 (one head per thread), kept so that the library's kernel is
// timed beside them in one binary. Plain launchers (no qforge header that pulls in fmt).
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/reduce.cuh"

using qforge::kernels::cuda::grid_stride_blocks;

namespace {

constexpr int kThreads = 256;

// V consecutive floats, one vector load (two float4 for V = 8); p aligned to min(4V, 16) bytes.
template <int V>
__device__ inline void load_f32(const float* p, float (&out)[V]) {
    if constexpr (V == 8) {
        const float4 a = reinterpret_cast<const float4*>(p)[0];
        const float4 b = reinterpret_cast<const float4*>(p)[1];
        out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
        out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
    } else if constexpr (V == 4) {
        const float4 a = *reinterpret_cast<const float4*>(p);
        out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
    } else if constexpr (V == 2) {
        const float2 a = *reinterpret_cast<const float2*>(p);
        out[0] = a.x, out[1] = a.y;
    } else {
        out[0] = *p;
    }
}

// V consecutive bf16 words widened to fp32 (exact), one 2V-byte load; p aligned to 2V bytes.
template <int V>
__device__ inline void load_bf16(const uint16_t* p, float (&out)[V]) {
    uint32_t w[(V + 1) / 2];
    if constexpr (V == 8) {
        const uint4 a = *reinterpret_cast<const uint4*>(p);
        w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w;
    } else if constexpr (V == 4) {
        const uint2 a = *reinterpret_cast<const uint2*>(p);
        w[0] = a.x, w[1] = a.y;
    } else if constexpr (V == 2) {
        w[0] = *reinterpret_cast<const uint32_t*>(p);
    } else {
        w[0] = *p;
    }
    for (int e = 0; e < V; e++) {
        // little-endian: the lower address is the low half of each 32-bit word
        const uint32_t bits = e % 2 == 0 ? w[e / 2] << 16 : w[e / 2] & 0xFFFF0000u;
        out[e] = __uint_as_float(bits);
    }
}

__device__ inline uint32_t bf16_bits(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

// V fp32 values rounded to bf16, one 2V-byte store; p aligned to 2V bytes.
template <int V>
__device__ inline void store_bf16(uint16_t* p, const float (&v)[V]) {
    if constexpr (V == 1) {
        *p = static_cast<uint16_t>(bf16_bits(v[0]));
    } else {
        uint32_t w[V / 2];
        for (int e = 0; e < V / 2; e++) {
            w[e] = bf16_bits(v[2 * e]) | (bf16_bits(v[2 * e + 1]) << 16);
        }
        if constexpr (V == 8) {
            *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
        } else if constexpr (V == 4) {
            *reinterpret_cast<uint2*>(p) = make_uint2(w[0], w[1]);
        } else {
            *reinterpret_cast<uint32_t*>(p) = w[0];
        }
    }
}

// The CPU's rope_pair (kernels/cpu/rope.cpp) on V pairs: (a, b) <- (a c - b s, b c + a s) with
// s = sign * sin, in double (exact products, one rounding), then rounded to fp32.
template <int V>
__device__ inline void rotate(float (&a)[V], float (&b)[V], const float (&c)[V],
                              const float (&s)[V], double sign) {
    for (int e = 0; e < V; e++) {
        const double cd = c[e];
        const double sd = sign * s[e];
        const double ad = a[e];
        const double bd = b[e];
        a[e] = __double2float_rn(ad * cd - bd * sd);
        b[e] = __double2float_rn(bd * cd + ad * sd);
    }
}

// One thread per V pairs (n, h, i .. i+V-1 < D/2), i fastest. Forward: in place on the bf16 rows
// x (stride ld), rows with a negative pos left alone. Backward: reads the fp32 (N,H,D) dx, writes
// the bf16 rows dst; rows with a negative pos get dx unrotated (rope_backward leaves them).
template <int V, bool Backward>
__global__ void rope_bf16_kernel(uint16_t* dst, int64_t ld, const float* dx, const int32_t* pos,
                                 const float* cos, const float* sin, int64_t N, int64_t H,
                                 int64_t half) {
    const int64_t groups = half / V;  // per head
    const int64_t items = N * H * groups;
    const double sign = Backward ? -1.0 : 1.0;
    for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < items;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t i = (k % groups) * V;
        const int64_t nh = k / groups;
        const int64_t n = nh / H;
        const int64_t h = nh - n * H;
        const int32_t p = pos[n];
        if (!Backward && p < 0) {
            continue;
        }
        uint16_t* row = dst + n * ld + h * 2 * half;
        float a[V], b[V];
        if constexpr (Backward) {
            const float* g = dx + nh * 2 * half;
            load_f32<V>(g + i, a);
            load_f32<V>(g + i + half, b);
        } else {
            load_bf16<V>(row + i, a);
            load_bf16<V>(row + i + half, b);
        }
        if (p >= 0) {
            float c[V], s[V];
            load_f32<V>(cos + static_cast<int64_t>(p) * half + i, c);
            load_f32<V>(sin + static_cast<int64_t>(p) * half + i, s);
            rotate<V>(a, b, c, s, sign);
        }
        store_bf16<V>(row + i, a);
        store_bf16<V>(row + i + half, b);
    }
}

bool aligned(const void* p, int bytes) {
    return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

// The widest V in {8, 4, 2, 1} with half % V == 0, ld % V == 0 and every pointer aligned to its
// vector load (dx may be nullptr: the forward has none).
int pairs_per_thread(int64_t half, int64_t ld, const uint16_t* rows, const float* dx,
                     const float* cos, const float* sin) {
    for (const int v : {8, 4, 2}) {
        const int f32_bytes = v * 4 < 16 ? v * 4 : 16;
        if (half % v == 0 && ld % v == 0 && aligned(rows, 2 * v) && aligned(dx, f32_bytes) &&
            aligned(cos, f32_bytes) && aligned(sin, f32_bytes)) {
            return v;
        }
    }
    return 1;
}

template <bool Backward>
void v1_launch(void* stream, uint16_t* rows, int64_t ld, const float* dx, const int32_t* pos,
               const float* cos, const float* sin, int64_t N, int64_t H, int64_t D) {
    const int64_t half = D / 2;
    if (N * H * half == 0) {
        return;
    }
    const int v = pairs_per_thread(half, ld, rows, dx, cos, sin);
    const unsigned grid = grid_stride_blocks(N * H * (half / v), kThreads);
    const auto s = static_cast<cudaStream_t>(stream);
    switch (v) {
        case 8:
            rope_bf16_kernel<8, Backward>
                <<<grid, kThreads, 0, s>>>(rows, ld, dx, pos, cos, sin, N, H, half);
            break;
        case 4:
            rope_bf16_kernel<4, Backward>
                <<<grid, kThreads, 0, s>>>(rows, ld, dx, pos, cos, sin, N, H, half);
            break;
        case 2:
            rope_bf16_kernel<2, Backward>
                <<<grid, kThreads, 0, s>>>(rows, ld, dx, pos, cos, sin, N, H, half);
            break;
        default:
            rope_bf16_kernel<1, Backward>
                <<<grid, kThreads, 0, s>>>(rows, ld, dx, pos, cos, sin, N, H, half);
            break;
    }
}

}  // namespace

cudaError_t v1_rope_forward_bf16(uint16_t* x, int64_t ld, const int32_t* pos, const float* cos,
                                 const float* sin, int64_t N, int64_t H, int64_t D) {
    v1_launch<false>(nullptr, x, ld, nullptr, pos, cos, sin, N, H, D);
    return cudaGetLastError();
}

cudaError_t v1_rope_backward_to_bf16(uint16_t* dst, int64_t ld, const float* dx, const int32_t* pos,
                                     const float* cos, const float* sin, int64_t N, int64_t H,
                                     int64_t D) {
    v1_launch<true>(nullptr, dst, ld, dx, pos, cos, sin, N, H, D);
    return cudaGetLastError();
}
