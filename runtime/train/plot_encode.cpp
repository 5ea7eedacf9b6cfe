// What is here: encode_png (see plot_encode.h). libpng reports errors by longjmp, so every C++
// object lives outside the setjmp region and the write callback never lets an exception
// cross libpng's C frames.
#include "runtime/train/plot_encode.h"

#include <csetjmp>
#include <cstring>
#include <exception>
#include <png.h>
#include <utility>
#include <vector>

#include "kernels/common.h"

namespace qforge::train {
namespace {

struct PngSink {
    std::string bytes;
    char error[256] = {};  // libpng's message, copied before the longjmp
};

void on_error(png_structp png, png_const_charp message) {
    auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
    std::strncpy(sink->error, message, sizeof(sink->error) - 1);
    png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_write(png_structp png, png_bytep data, std::size_t size) {
    auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
    bool ok = true;
    try {
        sink->bytes.append(reinterpret_cast<const char*>(data), size);
    } catch (const std::exception&) {
        ok = false;
    }
    if (!ok) {
        png_error(png, "out of memory while encoding");
    }
}

void on_flush(png_structp) {}

}  // namespace

std::string encode_png(const Canvas& canvas) {
    PngSink sink;
    std::vector<png_bytep> rows(static_cast<std::size_t>(canvas.height()));
    auto* base = const_cast<png_bytep>(canvas.pixels().data());  // libpng only reads rows
    for (std::size_t y = 0; y < rows.size(); ++y) {
        rows[y] = base + y * static_cast<std::size_t>(canvas.width()) * 3;
    }

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    QF_CHECK(png != nullptr, "encode_png: png_create_write_struct failed");
    png_infop info = png_create_info_struct(png);
    if (info == nullptr) {
        png_destroy_write_struct(&png, nullptr);
        QF_FAIL("encode_png: png_create_info_struct failed");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        QF_FAIL("encode_png: libpng failed: {}", sink.error);
    }
    png_set_write_fn(png, &sink, on_write, on_flush);
    png_set_IHDR(png, info, static_cast<png_uint_32>(canvas.width()),
                 static_cast<png_uint_32>(canvas.height()), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return std::move(sink.bytes);
}

}  // namespace qforge::train
