// What is here: the canvas and coverage masks of plot_canvas.h. Anti-aliasing is by distance:
// a pixel whose centre lies d pixels from a shape's edge gets coverage clamp(0.5 - d, 0, 1).
#include "runtime/train/plot_canvas.h"

#include <algorithm>
#include <cmath>

#include "kernels/common.h"
#include "runtime/train/plot_font.h"

namespace qforge::train {
namespace {

bool is_utf8_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0u) == 0x80u;
}

// One char per drawn cell: printable ASCII as itself, any other code point as '\x01', which
// has no glyph and so is drawn as the hollow box.
std::string text_cells(std::string_view text) {
    std::string cells;
    for (char c : text) {
        if (is_utf8_continuation(c)) {
            continue;
        }
        cells.push_back(font_has_glyph(c) ? c : '\x01');
    }
    return cells;
}

std::uint8_t mix(std::uint8_t from, std::uint8_t to, double alpha) {
    return static_cast<std::uint8_t>(std::lround(from + (to - from) * alpha));
}

}  // namespace

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
    QF_CHECK(width > 0 && height > 0, "Canvas: size {}x{} (expected positive)", width, height);
    pixels_.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
    for (std::size_t i = 0; i < pixels_.size(); i += 3) {
        pixels_[i] = background.r;
        pixels_[i + 1] = background.g;
        pixels_[i + 2] = background.b;
    }
}

Rgb Canvas::at(int x, int y) const {
    QF_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_,
             "Canvas::at({}, {}) outside the {}x{} canvas", x, y, width_, height_);
    const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                           static_cast<std::size_t>(x)) *
                          3;
    return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void Canvas::blend(int x, int y, Rgb color, double alpha) {
    if (x < 0 || x >= width_ || y < 0 || y >= height_ || !(alpha > 0.0)) {
        return;
    }
    alpha = std::min(alpha, 1.0);
    const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                           static_cast<std::size_t>(x)) *
                          3;
    pixels_[i] = mix(pixels_[i], color.r, alpha);
    pixels_[i + 1] = mix(pixels_[i + 1], color.g, alpha);
    pixels_[i + 2] = mix(pixels_[i + 2], color.b, alpha);
}

void Canvas::fill_rect(Rect rect, Rgb color) {
    for (int y = std::max(rect.y0, 0); y < std::min(rect.y1, height_); ++y) {
        for (int x = std::max(rect.x0, 0); x < std::min(rect.x1, width_); ++x) {
            blend(x, y, color, 1.0);
        }
    }
}

void Canvas::stroke_rect(Rect rect, Rgb color) {
    fill_rect({rect.x0, rect.y0, rect.x1, rect.y0 + 1}, color);
    fill_rect({rect.x0, rect.y1 - 1, rect.x1, rect.y1}, color);
    fill_rect({rect.x0, rect.y0, rect.x0 + 1, rect.y1}, color);
    fill_rect({rect.x1 - 1, rect.y0, rect.x1, rect.y1}, color);
}

void Canvas::draw_text(int x, int y, std::string_view text, Rgb color, int scale) {
    const std::string cells = text_cells(text);
    for (std::size_t k = 0; k < cells.size(); ++k) {
        const Glyph& glyph = glyph_for(cells[k]);
        const int cell_x = x + static_cast<int>(k) * kGlyphAdvance * scale;
        for (int row = 0; row < kGlyphHeight; ++row) {
            for (int col = 0; col < kGlyphWidth; ++col) {
                if (glyph[static_cast<std::size_t>(row)] & (1u << (kGlyphWidth - 1 - col))) {
                    const int px = cell_x + col * scale, py = y + row * scale;
                    fill_rect({px, py, px + scale, py + scale}, color);
                }
            }
        }
    }
}

void Canvas::draw_text_up(int x, int y, std::string_view text, Rgb color, int scale) {
    // Unrotated text coordinates (u along the text, v down the glyph) map to (x + v, y - 1 - u).
    const std::string cells = text_cells(text);
    for (std::size_t k = 0; k < cells.size(); ++k) {
        const Glyph& glyph = glyph_for(cells[k]);
        const int cell_u = static_cast<int>(k) * kGlyphAdvance * scale;
        for (int row = 0; row < kGlyphHeight; ++row) {
            for (int col = 0; col < kGlyphWidth; ++col) {
                if (glyph[static_cast<std::size_t>(row)] & (1u << (kGlyphWidth - 1 - col))) {
                    const int u = cell_u + col * scale, v = row * scale;
                    fill_rect({x + v, y - u - scale, x + v + scale, y - u}, color);
                }
            }
        }
    }
}

int text_width(std::string_view text, int scale) {
    const auto n = static_cast<int>(text_cells(text).size());
    return n == 0 ? 0 : (n * kGlyphAdvance - 1) * scale;
}

int text_cap_height(int scale) {
    return 7 * scale;
}

std::string text_fit(std::string_view text, int scale, int max_width) {
    if (text_width(text, scale) <= max_width) {
        return std::string(text);
    }
    const int budget = max_width - text_width("...", scale) - scale;
    std::size_t end = 0;  // byte length of the prefix kept so far
    int cells = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i < text.size() && is_utf8_continuation(text[i])) {
            continue;
        }
        // i starts a code point (or is the end): the prefix [0, i) holds `cells` cells.
        if (cells > 0 && cells * kGlyphAdvance * scale - scale > budget) {
            break;
        }
        end = i;
        ++cells;
    }
    return std::string(text.substr(0, end)) + "...";
}

CoverageMask::CoverageMask(Rect area) : area_(area) {
    QF_CHECK(area.width() > 0 && area.height() > 0, "CoverageMask: empty area {}x{}", area.width(),
             area.height());
    coverage_.assign(
        static_cast<std::size_t>(area.width()) * static_cast<std::size_t>(area.height()), 0.0f);
}

template <typename Distance>
void CoverageMask::add_shape(double x_lo, double y_lo, double x_hi, double y_hi, double half_width,
                             Distance distance) {
    if (!std::isfinite(x_lo) || !std::isfinite(y_lo) || !std::isfinite(x_hi) ||
        !std::isfinite(y_hi)) {
        return;
    }
    const double pad = half_width + 1.0;
    const int px0 = static_cast<int>(std::max<double>(area_.x0, std::floor(x_lo - pad)));
    const int py0 = static_cast<int>(std::max<double>(area_.y0, std::floor(y_lo - pad)));
    const int px1 = static_cast<int>(std::min<double>(area_.x1, std::ceil(x_hi + pad)));
    const int py1 = static_cast<int>(std::min<double>(area_.y1, std::ceil(y_hi + pad)));
    for (int py = py0; py < py1; ++py) {
        for (int px = px0; px < px1; ++px) {
            const double d = distance(px + 0.5, py + 0.5);
            const double c = std::clamp(half_width + 0.5 - d, 0.0, 1.0);
            float& slot = coverage_[static_cast<std::size_t>(py - area_.y0) *
                                        static_cast<std::size_t>(area_.width()) +
                                    static_cast<std::size_t>(px - area_.x0)];
            slot = std::max(slot, static_cast<float>(c));
        }
    }
}

void CoverageMask::add_segment(PointF a, PointF b, double width) {
    const double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
    auto distance = [&](double x, double y) {
        double t = len2 > 0.0 ? ((x - a.x) * dx + (y - a.y) * dy) / len2 : 0.0;
        t = std::clamp(t, 0.0, 1.0);
        return std::hypot(x - (a.x + t * dx), y - (a.y + t * dy));
    };
    add_shape(std::min(a.x, b.x), std::min(a.y, b.y), std::max(a.x, b.x), std::max(a.y, b.y),
              0.5 * width, distance);
}

void CoverageMask::add_polyline(const std::vector<PointF>& points, double width) {
    for (std::size_t i = 1; i < points.size(); ++i) {
        add_segment(points[i - 1], points[i], width);
    }
}

void CoverageMask::add_disc(PointF centre, double radius) {
    auto distance = [&](double x, double y) {
        return std::hypot(x - centre.x, y - centre.y);
    };
    add_shape(centre.x, centre.y, centre.x, centre.y, radius, distance);
}

void CoverageMask::merge(const CoverageMask& other) {
    QF_CHECK(other.area_.x0 == area_.x0 && other.area_.y0 == area_.y0 &&
                 other.area_.x1 == area_.x1 && other.area_.y1 == area_.y1,
             "CoverageMask::merge: areas differ");
    for (std::size_t i = 0; i < coverage_.size(); ++i) {
        coverage_[i] = std::max(coverage_[i], other.coverage_[i]);
    }
}

int CoverageMask::covered_pixels(Rect rect) const {
    int count = 0;
    for (int y = std::max(rect.y0, area_.y0); y < std::min(rect.y1, area_.y1); ++y) {
        for (int x = std::max(rect.x0, area_.x0); x < std::min(rect.x1, area_.x1); ++x) {
            count += coverage_[static_cast<std::size_t>(y - area_.y0) *
                                   static_cast<std::size_t>(area_.width()) +
                               static_cast<std::size_t>(x - area_.x0)] > 0.0f;
        }
    }
    return count;
}

void CoverageMask::composite(Canvas& canvas, Rgb color) const {
    for (int y = area_.y0; y < area_.y1; ++y) {
        for (int x = area_.x0; x < area_.x1; ++x) {
            const float c = coverage_[static_cast<std::size_t>(y - area_.y0) *
                                          static_cast<std::size_t>(area_.width()) +
                                      static_cast<std::size_t>(x - area_.x0)];
            canvas.blend(x, y, color, c);
        }
    }
}

}  // namespace qforge::train
