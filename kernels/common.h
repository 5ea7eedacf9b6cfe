// What is here: qforge::Error, the QF_CHECK macro, and the types every op interface shares
// (Device, DType, Ctx). This header is the bottom of the dependency graph: no CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fmt/format.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace qforge {

// Every failure qforge reports (bad input, a failed CUDA/NCCL/MPI call, a shape mismatch) is
// one Error with a message a user can act on; the launcher prints it and exits non-zero.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_error(const char* file, int line, std::string message);

}  // namespace qforge

// QF_CHECK(cond, "fmt {}", args...): throws qforge::Error naming the failed condition.
// The static_assert rejects QF_CHECK("text") (a string literal is always true).
#define QF_CHECK(cond, ...)                                                        \
    do {                                                                           \
        static_assert(!std::is_array_v<std::remove_reference_t<decltype(cond)>>,   \
                      "QF_CHECK takes a condition, not a string literal");         \
        if (!(cond)) {                                                             \
            ::qforge::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
        }                                                                          \
    } while (0)

// QF_FAIL("fmt {}", args...): throws qforge::Error unconditionally.
#define QF_FAIL(...) ::qforge::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))

namespace qforge::kernels {

enum class Device { kCpu, kCuda };

enum class DType { kF32, kBF16, kF16, kU8, kI32 };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
std::string_view device_name(Device device);

// How an op that takes integer indices (embedding ids, cross-entropy targets) checks them.
// kWait: on the device; the call waits for its stream and throws on a bad one. kCheckedByCaller:
// the caller checked them on the host, so the call queues its work and returns (work that can
// run ahead, or be captured into a CUDA graph); a bad index is still never read out of bounds.
enum class IndexCheck { kWait, kCheckedByCaller };

// Where an op runs. `stream` is a cudaStream_t on the CUDA backend (opaque here so that
// callers never include CUDA headers) and ignored on the CPU.
struct Ctx {
    Device device = Device::kCpu;
    void* stream = nullptr;
};

// True when this build has the CUDA backend and a GPU is present.
bool cuda_available();

}  // namespace qforge::kernels
