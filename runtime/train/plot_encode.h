// What is here: PNG encoding of a plot canvas into memory (libpng, 8-bit RGB).
#pragma once

#include <string>

#include "runtime/train/plot_canvas.h"

namespace qforge::train {

// The complete PNG file of `canvas`. Throws qforge::Error with libpng's message on failure.
std::string encode_png(const Canvas& canvas);

}  // namespace qforge::train
