// What is here: rope_forward/backward on CUDA (kernels/cuda/pointwise.h): the rotate_half
// rotation in place, fp32 math; and the bf16-row twins rope_forward_bf16 (in place on bf16
// rows) and rope_backward_to_bf16 (fp32 dx in, rotated bf16 rows out). The twins evaluate the
// CPU's pair formula in double (each product of two floats is exact there, so fused or not the
// difference is rounded once, as on the CPU), round to fp32 and then to bf16 with
// __float2bfloat16_rn: bit for bit the CPU's values. They are memory-bound: V pairs per thread
// (V = 8, 4, 2 or 1, the widest that the head size, the row stride and the pointers allow) of up
// to 4 heads of a token (cos/sin loaded and widened once for them), each half of a pair group
// one vector load and one vector store.
#include <climits>
#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// one thread per pair (n, h, i < D/2), i fastest; x is (N,H,D), cos/sin (T_max, D/2)
__global__ void rope_kernel(float* x, const int32_t* pos, const float* cos, const float* sin,
                            int64_t N, int64_t H, int64_t D, float sign) {
    const int64_t half = D / 2;
    const int64_t pairs = N * H * half;
    for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < pairs;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t i = k % half;
        const int64_t nh = k / half;
        const int64_t n = nh / H;
        const int32_t p = pos[n];
        if (p < 0) {
            continue;
        }
        const float c = cos[static_cast<int64_t>(p) * half + i];
        const float s = sign * sin[static_cast<int64_t>(p) * half + i];
        float* xh = x + nh * D;
        const float x1 = xh[i];
        const float x2 = xh[i + half];
        xh[i] = x1 * c - x2 * s;
        xh[i + half] = x2 * c + x1 * s;
    }
}

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

// The CPU's rope_pair (kernels/cpu/rope.cpp) on V pairs: (a, b) <- (a c - b s, b c + a s) with c
// and s (= sign * sin) widened to double: exact products, one rounding, then rounded to fp32.
template <int V>
__device__ inline void rotate(float (&a)[V], float (&b)[V], const double (&c)[V],
                              const double (&s)[V]) {
    for (int e = 0; e < V; e++) {
        const double ad = a[e];
        const double bd = b[e];
        a[e] = __double2float_rn(ad * c[e] - bd * s[e]);
        b[e] = __double2float_rn(bd * c[e] + ad * s[e]);
    }
}

constexpr int kHeadsPerThread = 4;  // heads that share one load and widening of cos/sin

// One thread per V pairs (i .. i+V-1 < D/2) of up to kHeadsPerThread heads of one token, i
// fastest; the table values are loaded and widened once for those heads. Forward: in place on the
// bf16 rows x (stride ld), rows with a negative pos left alone. Backward: reads the fp32 (N,H,D)
// dx, writes the bf16 rows dst; rows with a negative pos get dx unrotated (rope_backward leaves
// them). Index: int32_t while N * ceil(H / kHeadsPerThread) * D/2 / V fits, else int64_t.
template <int V, bool Backward, typename Index>
__global__ void rope_bf16_kernel(uint16_t* dst, int64_t ld, const float* dx, const int32_t* pos,
                                 const float* cos, const float* sin, Index N, Index H, Index half) {
    const Index groups = half / V;  // per head
    const Index head_groups = (H + kHeadsPerThread - 1) / kHeadsPerThread;
    const Index items = N * head_groups * groups;
    const double sign = Backward ? -1.0 : 1.0;
    for (Index k = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; k < items;
         k += static_cast<Index>(gridDim.x) * blockDim.x) {
        const Index i = (k % groups) * V;
        const Index rest = k / groups;
        const Index n = rest / head_groups;
        const Index h0 = (rest - n * head_groups) * kHeadsPerThread;
        const int32_t p = pos[n];
        if (!Backward && p < 0) {
            continue;
        }
        double c[V], s[V];
        if (p >= 0) {
            float cf[V], sf[V];
            load_f32<V>(cos + static_cast<int64_t>(p) * half + i, cf);
            load_f32<V>(sin + static_cast<int64_t>(p) * half + i, sf);
            for (int e = 0; e < V; e++) {
                c[e] = cf[e];
                s[e] = sign * sf[e];
            }
        }
#pragma unroll
        for (int hh = 0; hh < kHeadsPerThread; hh++) {
            const Index h = h0 + hh;
            if (h >= H) {
                break;
            }
            uint16_t* row = dst + static_cast<int64_t>(n) * ld + static_cast<int64_t>(h) * 2 * half;
            float a[V], b[V];
            if constexpr (Backward) {
                const float* g = dx + (static_cast<int64_t>(n) * H + h) * 2 * half;
                load_f32<V>(g + i, a);
                load_f32<V>(g + i + half, b);
            } else {
                load_bf16<V>(row + i, a);
                load_bf16<V>(row + i + half, b);
            }
            if (p >= 0) {
                rotate<V>(a, b, c, s);
            }
            store_bf16<V>(row + i, a);
            store_bf16<V>(row + i + half, b);
        }
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
void launch_rope_bf16(void* stream, uint16_t* rows, int64_t ld, const float* dx, const int32_t* pos,
                      const float* cos, const float* sin, int64_t N, int64_t H, int64_t D) {
    const int64_t half = D / 2;
    if (N * H * half == 0) {
        return;
    }
    const int v = pairs_per_thread(half, ld, rows, dx, cos, sin);
    const int64_t items = N * ((H + kHeadsPerThread - 1) / kHeadsPerThread) * (half / v);
    const unsigned grid = grid_stride_blocks(items, kThreads);
    const auto s = static_cast<cudaStream_t>(stream);
    // 32-bit index arithmetic while the loop index (items plus one grid stride) fits
    const bool narrow = items + static_cast<int64_t>(grid) * kThreads <= INT32_MAX;
    auto launch = [&](auto v_tag, auto index_tag) {
        constexpr int kV = decltype(v_tag)::value;
        using Index = decltype(index_tag);
        rope_bf16_kernel<kV, Backward, Index>
            <<<grid, kThreads, 0, s>>>(rows, ld, dx, pos, cos, sin, static_cast<Index>(N),
                                       static_cast<Index>(H), static_cast<Index>(half));
    };
    auto with_index = [&](auto v_tag) {
        if (narrow) {
            launch(v_tag, int32_t{});
        } else {
            launch(v_tag, int64_t{});
        }
    };
    switch (v) {
        case 8:
            with_index(std::integral_constant<int, 8>{});
            break;
        case 4:
            with_index(std::integral_constant<int, 4>{});
            break;
        case 2:
            with_index(std::integral_constant<int, 2>{});
            break;
        default:
            with_index(std::integral_constant<int, 1>{});
            break;
    }
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace

void rope_rotate(void* stream, float* x, const int32_t* pos, const float* cos, const float* sin,
                 int64_t N, int64_t H, int64_t D, float sign) {
    const int64_t pairs = N * H * (D / 2);
    if (pairs == 0) {
        return;
    }
    const unsigned grid = grid_stride_blocks(pairs, kThreads);
    rope_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, pos, cos, sin, N, H, D,
                                                                          sign);
    QF_CUDA_LAUNCH_CHECK();
}

void rope_forward_bf16(void* stream, uint16_t* x, int64_t ld, const int32_t* pos, const float* cos,
                       const float* sin, int64_t N, int64_t H, int64_t D) {
    launch_rope_bf16<false>(stream, x, ld, nullptr, pos, cos, sin, N, H, D);
}

void rope_backward_to_bf16(void* stream, uint16_t* dst, int64_t ld, const float* dx,
                           const int32_t* pos, const float* cos, const float* sin, int64_t N,
                           int64_t H, int64_t D) {
    launch_rope_bf16<true>(stream, dst, ld, dx, pos, cos, sin, N, H, D);
}

}  // namespace qforge::kernels::cuda
