// What is here: the non-inline parts of kernels/common.h.
#include "kernels/common.h"

namespace qforge {

void throw_error(const char* file, int line, std::string message) {
    // Library errors carry the source position only in debug builds' messages would be
    // noise for users; keep it short but findable: "message [kernels/x.cpp:12]".
    std::string_view path(file);
    if (auto pos = path.rfind("qforge/"); pos != std::string_view::npos) {
        path.remove_prefix(pos + 7);
    }
    throw Error(fmt::format("{} [{}:{}]", message, path, line));
}

}  // namespace qforge

namespace qforge::kernels {

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::kF32:
            return 4;
        case DType::kBF16:
            return 2;
        case DType::kF16:
            return 2;
        case DType::kU8:
            return 1;
        case DType::kI32:
            return 4;
    }
    QF_FAIL("unknown dtype {}", static_cast<int>(dtype));
}

std::string_view dtype_name(DType dtype) {
    switch (dtype) {
        case DType::kF32:
            return "f32";
        case DType::kBF16:
            return "bf16";
        case DType::kF16:
            return "f16";
        case DType::kU8:
            return "u8";
        case DType::kI32:
            return "i32";
    }
    return "?";
}

std::string_view device_name(Device device) {
    return device == Device::kCpu ? "cpu" : "cuda";
}

}  // namespace qforge::kernels
