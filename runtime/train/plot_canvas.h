// What is here: the raster the loss plot is drawn on: an RGB canvas with filled rectangles and
// bitmap-font text, and coverage masks that draw anti-aliased lines and discs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::train {

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb&) const = default;
};

// Half-open pixel rectangle [x0, x1) x [y0, y1).
struct Rect {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;

    int width() const { return x1 - x0; }

    int height() const { return y1 - y0; }
};

// A point in pixel space; pixel (x, y) covers [x, x+1) x [y, y+1), so its centre is +0.5.
struct PointF {
    double x = 0, y = 0;
};

class Canvas {
public:
    Canvas(int width, int height, Rgb background);

    int width() const { return width_; }

    int height() const { return height_; }

    Rgb at(int x, int y) const;

    // Row-major RGB, 3 bytes a pixel, width() * height() pixels.
    const std::vector<std::uint8_t>& pixels() const { return pixels_; }

    // Mixes `color` into pixel (x, y) with weight alpha in [0, 1]; outside the canvas: no-op.
    void blend(int x, int y, Rgb color, double alpha);
    void fill_rect(Rect rect, Rgb color);
    void stroke_rect(Rect rect, Rgb color);  // the 1-pixel outline just inside `rect`

    // Text in the bitmap font, each font pixel drawn as a scale x scale block. (x, y) is the
    // top-left corner of the first cell. draw_text_up rotates it a quarter turn
    // anticlockwise (reading bottom to top), with (x, y) the bottom-left corner.
    void draw_text(int x, int y, std::string_view text, Rgb color, int scale);
    void draw_text_up(int x, int y, std::string_view text, Rgb color, int scale);

private:
    int width_, height_;
    std::vector<std::uint8_t> pixels_;
};

// Width in pixels of `text` drawn at `scale` (no trailing gap). Each UTF-8 code point takes
// one cell; those the font lacks are drawn as a hollow box.
int text_width(std::string_view text, int scale);

// Height of capitals and digits at `scale` (descenders hang below it).
int text_cap_height(int scale);

// The longest prefix of `text` that fits in `max_width` pixels at `scale`, with "..." added
// when something was cut.
std::string text_fit(std::string_view text, int scale, int max_width);

// Anti-aliased coverage in [0, 1] over one rectangle of the canvas. Shapes merge by maximum,
// so a polyline's joints are not darker than its segments; composite() then paints it once.
class CoverageMask {
public:
    explicit CoverageMask(Rect area);

    // A round-capped segment `width` pixels wide.
    void add_segment(PointF a, PointF b, double width);
    void add_polyline(const std::vector<PointF>& points, double width);
    void add_disc(PointF centre, double radius);

    // Takes the maximum with `other`, which must cover the same area.
    void merge(const CoverageMask& other);

    // Pixels of `rect` (clipped to the area) with any coverage.
    int covered_pixels(Rect rect) const;
    void composite(Canvas& canvas, Rgb color) const;

private:
    template <typename Distance>
    void add_shape(double x_lo, double y_lo, double x_hi, double y_hi, double half_width,
                   Distance distance);

    Rect area_;
    std::vector<float> coverage_;
};

}  // namespace qforge::train
