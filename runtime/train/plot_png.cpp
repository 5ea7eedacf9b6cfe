// What is here: the layout of the loss plot (see plot_png.h): margins sized from the tick
// labels, a data area with a small margin around the data, ticks at nice values inside it,
// series drawn through coverage masks, and the legend in the emptiest corner.
#include "runtime/train/plot_png.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <optional>

#include "kernels/common.h"
#include "runtime/io/atomic_file.h"
#include "runtime/train/plot_axis.h"
#include "runtime/train/plot_canvas.h"
#include "runtime/train/plot_encode.h"

namespace qforge::train {
namespace {

// clang-format off
constexpr Rgb kBackground{255, 255, 255};
constexpr Rgb kGrid      {232, 232, 232};
constexpr Rgb kFrame     {110, 110, 110};
constexpr Rgb kTickText  { 70,  70,  70};
constexpr Rgb kTitleText { 30,  30,  30};
constexpr Rgb kLegendEdge{200, 200, 200};
// The "tab10" palette (matplotlib's default): ten colours that stay apart on white.
constexpr Rgb kPalette[] = {
    { 31, 119, 180}, {255, 127,  14}, { 44, 160,  44}, {214,  39,  40}, {148, 103, 189},
    {140,  86,  75}, {227, 119, 194}, {127, 127, 127}, {188, 189,  34}, { 23, 190, 207},
};
// clang-format on

constexpr int kTextScale = 2;   // tick labels, axis titles and legend
constexpr int kTitleScale = 3;  // falls back to kTextScale when the title is long
constexpr int kTickLength = 5;
constexpr double kLineWidth = 1.75;
constexpr double kMarkerRadius = 3.5;
constexpr double kDataMargin = 0.04;  // of the data range, on each side of the data

Rgb palette(std::size_t index) {
    return kPalette[index % std::size(kPalette)];
}

// The finite points of one series.
std::vector<std::pair<double, double>> finite_points(const Series& s) {
    std::vector<std::pair<double, double>> out;
    out.reserve(s.points.size());
    for (const auto& [x, y] : s.points) {
        if (std::isfinite(x) && std::isfinite(y)) {
            out.emplace_back(x, y);
        }
    }
    return out;
}

struct Range {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();

    bool empty() const { return !(lo <= hi); }

    void add(double v) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
};

// One axis: the visible range and the ticks inside it.
struct Axis {
    double lo = 0, hi = 1;
    AxisTicks ticks;
    std::vector<std::string> labels;  // one per ticks.values entry
    int max_label_width = 0;
};

// `target` ticks over the data range; the visible range adds kDataMargin on each side, and
// ticks outside it are dropped (as matplotlib does), so the curve never touches the frame.
Axis make_axis(Range data, int target) {
    if (data.empty()) {
        data = {0.0, 1.0};
    }
    Axis axis;
    axis.ticks = nice_ticks(data.lo, data.hi, target);
    if (data.hi - data.lo <= std::fabs(data.hi) * 1e-12) {  // one value: centre it
        const double half = std::max(axis.ticks.step, 1e-300);
        data = {data.lo - half, data.hi + half};
    }
    const double margin = (data.hi - data.lo) * kDataMargin;
    axis.lo = data.lo - margin;
    axis.hi = data.hi + margin;
    const double slack = axis.ticks.step * 1e-9;
    std::erase_if(axis.ticks.values,
                  [&](double v) { return v < axis.lo - slack || v > axis.hi + slack; });
    for (double v : axis.ticks.values) {
        axis.labels.push_back(tick_label(v, axis.ticks));
        axis.max_label_width =
            std::max(axis.max_label_width, text_width(axis.labels.back(), kTextScale));
    }
    return axis;
}

// Fewer ticks while the labels of neighbouring ticks would crowd each other.
Axis make_axis_fitting(Range data, int target, int length, bool horizontal) {
    Axis axis = make_axis(data, target);
    while (target > 2) {
        const int label_extent = horizontal ? axis.max_label_width : text_cap_height(kTextScale);
        const double spacing =
            axis.ticks.values.size() < 2 ? length : length * axis.ticks.step / (axis.hi - axis.lo);
        if (spacing >= label_extent + 40) {  // at least 40 px between neighbouring labels
            break;
        }
        axis = make_axis(data, --target);
    }
    return axis;
}

struct Layout {
    Rect plot;  // the data area, inside the frame
    Axis x, y;
};

// Pixel centre of data coordinate v on an axis spanning [lo, hi] over `pixels` pixels.
double to_pixel(double v, double lo, double hi, int first, int pixels) {
    return first + 0.5 + (v - lo) / (hi - lo) * (pixels - 1);
}

double x_pixel(const Layout& l, double x) {
    return to_pixel(x, l.x.lo, l.x.hi, l.plot.x0, l.plot.width());
}

double y_pixel(const Layout& l, double y) {
    // y grows upwards: the top row shows hi.
    return to_pixel(l.y.hi - (y - l.y.lo), l.y.lo, l.y.hi, l.plot.y0, l.plot.height());
}

// One legend row: a series' sample and label, or (series unset) the "+N more" line that
// stands for the series that do not fit.
struct LegendRow {
    std::optional<std::size_t> series;
    std::string text;
};

struct Legend {
    std::vector<LegendRow> rows;
    int width = 0, height = 0;
};

constexpr int kLegendPad = 8;
constexpr int kLegendRow = 20;
constexpr int kLegendSample = 28;
constexpr int kLegendInset = 10;  // from the frame

// The legend of the labelled series, at most max_width x max_height pixels.
Legend make_legend(const std::vector<Series>& series, int max_width, int max_height) {
    Legend legend;
    std::vector<std::size_t> labelled;
    for (std::size_t i = 0; i < series.size(); ++i) {
        if (!series[i].label.empty()) {
            labelled.push_back(i);
        }
    }
    if (labelled.empty()) {
        return legend;
    }
    const auto fit_rows =
        static_cast<std::size_t>(std::max(1, (max_height - 2 * kLegendPad + 6) / kLegendRow));
    const std::size_t shown = labelled.size() <= fit_rows ? labelled.size() : fit_rows - 1;
    const int max_text = max_width - kLegendSample - 3 * kLegendPad;
    for (std::size_t k = 0; k < shown; ++k) {
        const std::size_t i = labelled[k];
        legend.rows.push_back({i, text_fit(series[i].label, kTextScale, max_text)});
    }
    if (shown < labelled.size()) {
        legend.rows.push_back({std::nullopt, fmt::format("+{} more", labelled.size() - shown)});
    }
    int text_w = 0;
    for (const LegendRow& row : legend.rows) {
        text_w = std::max(text_w, text_width(row.text, kTextScale));
    }
    legend.width = kLegendPad + kLegendSample + kLegendPad + text_w + kLegendPad;
    legend.height = 2 * kLegendPad + static_cast<int>(legend.rows.size()) * kLegendRow - 6;
    return legend;
}

// dotted[i]: series i is drawn with markers, so its legend sample gets one too.
void draw_legend(Canvas& canvas, const Legend& legend, const std::vector<bool>& dotted, Rect box) {
    canvas.fill_rect(box, kBackground);
    canvas.stroke_rect(box, kLegendEdge);
    for (std::size_t k = 0; k < legend.rows.size(); ++k) {
        const LegendRow& row = legend.rows[k];
        const int row_top = box.y0 + kLegendPad + static_cast<int>(k) * kLegendRow;
        const double mid = row_top + text_cap_height(kTextScale) / 2.0;
        const double x0 = box.x0 + kLegendPad, x1 = x0 + kLegendSample;
        if (row.series) {
            CoverageMask mask(box);
            mask.add_segment({x0, mid}, {x1, mid}, kLineWidth + 0.5);
            if (dotted[*row.series]) {
                CoverageMask ring(box);
                ring.add_disc({(x0 + x1) / 2, mid}, kMarkerRadius + 1.5);
                ring.composite(canvas, kBackground);
                mask.add_disc({(x0 + x1) / 2, mid}, kMarkerRadius);
            }
            mask.composite(canvas, palette(*row.series));
        }
        canvas.draw_text(static_cast<int>(x1) + kLegendPad, row_top, row.text, kTickText,
                         kTextScale);
    }
}

// The legend's corner: the first of top-right, bottom-left, bottom-right, top-left that hides
// the fewest drawn data pixels.
Rect place_legend(const Legend& legend, const Rect& plot, const CoverageMask& drawn) {
    const int left = plot.x0 + kLegendInset, right = plot.x1 - kLegendInset;
    const int top = plot.y0 + kLegendInset, bottom = plot.y1 - kLegendInset;
    const int w = legend.width, h = legend.height;
    const Rect candidates[] = {
        {right - w, top, right, top + h},
        {left, bottom - h, left + w, bottom},
        {right - w, bottom - h, right, bottom},
        {left, top, left + w, top + h},
    };
    Rect best = candidates[0];
    int best_hidden = std::numeric_limits<int>::max();
    for (const Rect& r : candidates) {
        const int hidden = drawn.covered_pixels(r);
        if (hidden < best_hidden) {
            best = r;
            best_hidden = hidden;
        }
    }
    return best;
}

void draw_axes(Canvas& canvas, const Layout& l) {
    const Rect& p = l.plot;
    for (std::size_t i = 0; i < l.x.ticks.values.size(); ++i) {
        const int px = static_cast<int>(std::floor(x_pixel(l, l.x.ticks.values[i])));
        canvas.fill_rect({px, p.y1, px + 1, p.y1 + kTickLength}, kFrame);
        const std::string& label = l.x.labels[i];
        canvas.draw_text(px - text_width(label, kTextScale) / 2, p.y1 + kTickLength + 6, label,
                         kTickText, kTextScale);
    }
    for (std::size_t i = 0; i < l.y.ticks.values.size(); ++i) {
        const int py = static_cast<int>(std::floor(y_pixel(l, l.y.ticks.values[i])));
        canvas.fill_rect({p.x0 - kTickLength, py, p.x0, py + 1}, kFrame);
        const std::string& label = l.y.labels[i];
        canvas.draw_text(p.x0 - kTickLength - 6 - text_width(label, kTextScale),
                         py - text_cap_height(kTextScale) / 2, label, kTickText, kTextScale);
    }
    canvas.stroke_rect({p.x0 - 1, p.y0 - 1, p.x1 + 1, p.y1 + 1}, kFrame);
}

void draw_grid(Canvas& canvas, const Layout& l) {
    const Rect& p = l.plot;
    for (double v : l.x.ticks.values) {
        const int px = static_cast<int>(std::floor(x_pixel(l, v)));
        canvas.fill_rect({px, p.y0, px + 1, p.y1}, kGrid);
    }
    for (double v : l.y.ticks.values) {
        const int py = static_cast<int>(std::floor(y_pixel(l, v)));
        canvas.fill_rect({p.x0, py, p.x1, py + 1}, kGrid);
    }
}

void draw_titles(Canvas& canvas, const Layout& l, const std::string& title) {
    const int width = canvas.width();
    int scale = kTitleScale;
    if (text_width(title, scale) > width - 40) {
        scale = kTextScale;
    }
    const std::string shown = text_fit(title, scale, width - 40);
    canvas.draw_text((width - text_width(shown, scale)) / 2, 16, shown, kTitleText, scale);

    const Rect& p = l.plot;
    const int x_title_y = p.y1 + kTickLength + 6 + text_cap_height(kTextScale) + 14;
    canvas.draw_text(p.x0 + (p.width() - text_width("step", kTextScale)) / 2, x_title_y, "step",
                     kTickText, kTextScale);
    canvas.draw_text_up(16, p.y0 + (p.height() + text_width("loss", kTextScale)) / 2, "loss",
                        kTickText, kTextScale);
}

Layout make_layout(const std::string& title,
                   const std::vector<std::vector<std::pair<double, double>>>& points) {
    Range xs, ys;
    for (const auto& pts : points) {
        for (const auto& [x, y] : pts) {
            xs.add(x);
            ys.add(y);
        }
    }
    // The left margin depends on the y labels, the x ticks on the width left over, so the y
    // axis is fixed first with the plot's rough height.
    const int top = title.empty() ? 24 : 16 + text_cap_height(kTitleScale) + 20;
    const int bottom =
        kTickLength + 6 + text_cap_height(kTextScale) + 14 + text_cap_height(kTextScale) + 16;
    Layout l;
    l.y = make_axis_fitting(ys, 7, kPlotHeight - top - bottom, false);
    const int left = 16 + text_cap_height(kTextScale) + 14 + l.y.max_label_width + kTickLength + 6;
    int right = 24;
    l.plot = {left, top, kPlotWidth - right, kPlotHeight - bottom};
    l.x = make_axis_fitting(xs, 8, l.plot.width(), true);
    // The last x label is centred on its tick and may reach past the frame: make room for it.
    const int overhang = l.x.labels.empty() ? 0 : text_width(l.x.labels.back(), kTextScale) / 2 + 8;
    if (overhang > right) {
        right = overhang;
        l.plot.x1 = kPlotWidth - right;
        l.x = make_axis_fitting(xs, 8, l.plot.width(), true);
    }
    return l;
}

}  // namespace

std::array<std::uint8_t, 3> series_color(std::size_t index) {
    const Rgb c = palette(index);
    return {c.r, c.g, c.b};
}

std::string render_loss_plot(const std::string& title, const std::vector<Series>& series) {
    std::vector<std::vector<std::pair<double, double>>> points;
    for (const Series& s : series) {
        points.push_back(finite_points(s));
    }
    const Layout l = make_layout(title, points);
    Canvas canvas(kPlotWidth, kPlotHeight, kBackground);
    draw_grid(canvas, l);

    // Series 0 is painted first, so later series lie on top; markers get a white ring that
    // sets them off from the lines below. `drawn` remembers every data pixel for the legend.
    CoverageMask drawn(l.plot);
    std::vector<bool> dotted(series.size());
    bool any_point = false;
    for (std::size_t i = 0; i < series.size(); ++i) {
        std::vector<PointF> pixels;
        for (const auto& [x, y] : points[i]) {
            pixels.push_back({x_pixel(l, x), y_pixel(l, y)});
        }
        any_point = any_point || !pixels.empty();
        CoverageMask mask(l.plot);
        mask.add_polyline(pixels, kLineWidth);
        dotted[i] = series[i].markers || pixels.size() == 1;
        if (dotted[i]) {
            CoverageMask ring(l.plot);
            for (const PointF& p : pixels) {
                ring.add_disc(p, kMarkerRadius + 1.5);
                mask.add_disc(p, kMarkerRadius);
            }
            ring.composite(canvas, kBackground);
        }
        mask.composite(canvas, palette(i));
        drawn.merge(mask);
    }
    if (!any_point) {
        const int w = text_width("no data", kTextScale);
        canvas.draw_text(l.plot.x0 + (l.plot.width() - w) / 2,
                         l.plot.y0 + (l.plot.height() - text_cap_height(kTextScale)) / 2, "no data",
                         kTickText, kTextScale);
    }
    const Legend legend =
        make_legend(series, l.plot.width() / 2, l.plot.height() - 2 * kLegendInset);
    if (!legend.rows.empty()) {
        draw_legend(canvas, legend, dotted, place_legend(legend, l.plot, drawn));
    }
    draw_axes(canvas, l);
    draw_titles(canvas, l, title);
    return encode_png(canvas);
}

void write_loss_plot(const std::filesystem::path& path, const std::string& title,
                     const std::vector<Series>& series) {
    io::write_file_atomic(path, render_loss_plot(title, series));
}

}  // namespace qforge::train
