// What is here: the two code searches of the NF4 quantizer (bitsandbytes dQuantizeNF4 and
// dQuantize<0>), written once for the CPU reference and the CUDA quantizer so that both make
// the same decisions bit for bit. kernels/cpu/nf4.cpp explains each; kernels/nf4.h exposes them.
#pragma once

#include <cstdint>

#include "kernels/host_device.h"

namespace qforge::kernels::nf4_codes {

// bitsandbytes dQuantizeNF4: a balanced tree over the midpoints between neighbouring levels. The
// thresholds are bnb's literals (not recomputed), and `>` sends a tie to the lower code; NaN
// fails every test and gets code 0.
QF_HOST_DEVICE inline uint8_t nf4_nearest(float x) {
    if (x > 0.03979014977812767f) {
        if (x > 0.3893125355243683f) {
            if (x > 0.6427869200706482f) {
                return x > 0.8614784181118011f ? 0b1111 : 0b1110;
            }
            return x > 0.5016634166240692f ? 0b1101 : 0b1100;
        }
        if (x > 0.2035212516784668f) {
            return x > 0.2920137718319893f ? 0b1011 : 0b1010;
        }
        return x > 0.1202552504837513f ? 0b1001 : 0b1000;
    }
    if (x > -0.33967943489551544f) {
        if (x > -0.13791173323988914f) {
            return x > -0.045525018125772476f ? 0b0111 : 0b0110;
        }
        return x > -0.23460740596055984f ? 0b0101 : 0b0100;
    }
    if (x > -0.6106329262256622f) {
        return x > -0.4599952697753906f ? 0b0011 : 0b0010;
    }
    return x > -0.8480964004993439f ? 0b0001 : 0b0000;
}

// bitsandbytes dQuantize<0> (non-stochastic) over the 256 ascending values of `code`: a 7-step
// binary search from index 127 narrows x to a pair of neighbouring codes, then a midpoint test
// picks one. Ties go to the code the search ended on (`pivot`). code[255] is reachable only
// through `upper_pivot` and code[0] only through `lower_pivot` or the last step, as in the kernel.
QF_HOST_DEVICE inline uint8_t dynamic_nearest(const float* code, float x) {
    int pivot = 127;
    int upper_pivot = 255;
    int lower_pivot = 0;
    float lower = -1.0f;
    float upper = 1.0f;
    float val = code[pivot];
    for (int i = 64; i > 0; i >>= 1) {
        if (x > val) {
            lower_pivot = pivot;
            lower = val;
            pivot += i;
        } else {
            upper_pivot = pivot;
            upper = val;
            pivot -= i;
        }
        val = code[pivot];
    }
    if (upper_pivot == 255) {
        upper = code[upper_pivot];
    }
    if (lower_pivot == 0) {
        lower = code[lower_pivot];
    }
    int chosen = pivot;
    if (x > val) {
        const float midpoint = (upper + val) * 0.5f;
        if (x > midpoint) {
            chosen = upper_pivot;
        }
    } else {
        const float midpoint = (lower + val) * 0.5f;
        if (x < midpoint) {
            chosen = lower_pivot;
        }
    }
    return static_cast<uint8_t>(chosen);
}

}  // namespace qforge::kernels::nf4_codes
