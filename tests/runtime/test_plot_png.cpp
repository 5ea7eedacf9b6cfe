// What is here: tests of runtime/train/plot_png.h and its helpers (font, axis ticks, raster):
// the PNG is read back with libpng and its pixels checked.
#include <array>
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <limits>
#include <png.h>
#include <random>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "kernels/common.h"
#include "runtime/train/plot_axis.h"
#include "runtime/train/plot_canvas.h"
#include "runtime/train/plot_font.h"
#include "runtime/train/plot_png.h"
#include "support/test_support.h"

namespace qforge::train {
namespace {

namespace fs = std::filesystem;

struct Image {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb;

    std::array<std::uint8_t, 3> at(int x, int y) const {
        const auto i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                        static_cast<std::size_t>(x)) *
                       3;
        return {rgb[i], rgb[i + 1], rgb[i + 2]};
    }

    // Pixels of exactly `color` inside [x0, x1) x [y0, y1).
    int count(std::array<std::uint8_t, 3> color, int x0 = 0, int y0 = 0, int x1 = -1,
              int y1 = -1) const {
        x1 = x1 < 0 ? width : x1;
        y1 = y1 < 0 ? height : y1;
        int n = 0;
        for (int y = y0; y < y1; ++y) {
            for (int x = x0; x < x1; ++x) {
                n += at(x, y) == color;
            }
        }
        return n;
    }
};

Image read_png(const fs::path& path) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    EXPECT_NE(png_image_begin_read_from_file(&image, path.c_str()), 0) << image.message;
    image.format = PNG_FORMAT_RGB;
    Image out;
    out.width = static_cast<int>(image.width);
    out.height = static_cast<int>(image.height);
    out.rgb.resize(PNG_IMAGE_SIZE(image));
    EXPECT_NE(png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr), 0)
        << image.message;
    return out;
}

std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A noisy decaying loss curve of n points from test_seed().
Series random_loss_curve(const std::string& label, int n, double start, std::uint64_t salt) {
    const std::vector<float> noise =
        test::random_floats(static_cast<std::size_t>(n), -0.1f, 0.1f, salt);
    Series s{label, {}, false};
    for (int i = 0; i < n; ++i) {
        s.points.emplace_back(i + 1, start * std::exp(-i / (n / 4.0)) + 1.0 + noise[i]);
    }
    return s;
}

constexpr std::array<std::uint8_t, 3> kWhite{255, 255, 255};

TEST(PlotPng, WritesPngWithSizeSignatureAndSeriesColors) {
    test::TempDir dir;
    const fs::path path = dir.path() / "loss.png";
    Series train = random_loss_curve("train", 500, 3.0, 1);
    Series val{"validation", {}, true};
    for (int i = 50; i <= 500; i += 50) {
        val.points.emplace_back(i, train.points[static_cast<std::size_t>(i - 1)].second + 0.2);
    }
    write_loss_plot(path, "run: loss", {train, val});

    const std::string bytes = read_bytes(path);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_FALSE(fs::exists(path.string() + ".tmp." + std::to_string(::getpid())));

    const Image img = read_png(path);
    ASSERT_EQ(img.width, kPlotWidth);
    ASSERT_EQ(img.height, kPlotHeight);
    // A 500-point line spans the plot (hundreds of pixels); ten markers of radius 3.5 and the
    // line between them give well over a hundred. A third colour must not appear anywhere.
    EXPECT_GT(img.count(series_color(0)), 500);
    EXPECT_GT(img.count(series_color(1)), 150);
    EXPECT_EQ(img.count(series_color(2)), 0);
    EXPECT_EQ(img.at(0, 0), kWhite);
    EXPECT_EQ(img.at(kPlotWidth - 1, kPlotHeight - 1), kWhite);
}

TEST(PlotPng, DecreasingCurveRunsFromTopLeftToBottomRight) {
    // Series 0 falls, series 1 rises; neither has a label, so no legend adds their colours.
    Series falling{"", {}, false}, rising{"", {}, false};
    const std::vector<float> noise = test::random_floats(100, -0.01f, 0.01f);
    for (int i = 0; i < 100; ++i) {
        falling.points.emplace_back(i, 4.0 - i * 0.03 + noise[static_cast<std::size_t>(i)]);
        rising.points.emplace_back(i, 1.0 + i * 0.03 - noise[static_cast<std::size_t>(i)]);
    }
    test::TempDir dir;
    write_loss_plot(dir.path() / "p.png", "t", {falling, rising});
    const Image img = read_png(dir.path() / "p.png");
    const int half_x = img.width / 2, half_y = img.height / 2;
    const auto c0 = series_color(0), c1 = series_color(1);
    EXPECT_GT(img.count(c0, 0, 0, half_x, half_y), 50);  // top left
    EXPECT_GT(img.count(c0, half_x, half_y), 50);        // bottom right
    EXPECT_EQ(img.count(c0, half_x + 20, 0, img.width, half_y - 20), 0);
    EXPECT_GT(img.count(c1, 0, half_y), 50);                     // bottom left
    EXPECT_GT(img.count(c1, half_x, 0, img.width, half_y), 50);  // top right
    EXPECT_EQ(img.count(c1, 0, 0, half_x - 20, half_y - 20), 0);
}

TEST(PlotPng, NonFinitePointsAreSkipped) {
    Series clean = random_loss_curve("train", 200, 2.0, 2);
    Series dirty = clean;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    dirty.points.insert(dirty.points.begin(), {0.5, nan});
    dirty.points.insert(dirty.points.begin() + 50, {nan, 1.0});
    dirty.points.insert(dirty.points.begin() + 100, {120.5, inf});
    dirty.points.insert(dirty.points.begin() + 150, {-inf, 2.0});
    dirty.points.emplace_back(1e9, -inf);
    // Skipped points leave no trace: not in the axis ranges, not in the line.
    EXPECT_EQ(render_loss_plot("nan", {dirty}), render_loss_plot("nan", {clean}));

    Series all_bad{"bad", {{1, nan}, {2, inf}, {nan, nan}}, false};
    test::TempDir dir;
    write_loss_plot(dir.path() / "bad.png", "all bad", {all_bad});
    const Image img = read_png(dir.path() / "bad.png");
    EXPECT_EQ(img.width, kPlotWidth);
    EXPECT_GT(img.count(series_color(0)), 0);  // its legend entry is still there
}

TEST(PlotPng, EmptyAndSinglePointPlotsAreValid) {
    test::TempDir dir;
    write_loss_plot(dir.path() / "none.png", "", {});
    const Image none = read_png(dir.path() / "none.png");
    EXPECT_EQ(none.width, kPlotWidth);
    EXPECT_EQ(none.height, kPlotHeight);
    EXPECT_GT(none.count(kWhite), kPlotWidth * kPlotHeight / 2);

    write_loss_plot(dir.path() / "empty.png", "empty", {{"train", {}, false}});
    EXPECT_EQ(read_png(dir.path() / "empty.png").width, kPlotWidth);

    const std::vector<float> v = test::random_floats(2, 1.0f, 5.0f);
    write_loss_plot(dir.path() / "one.png", "one", {{"", {{v[0] * 100, v[1]}}, false}});
    const Image one = read_png(dir.path() / "one.png");
    // Drawn as a dot of radius 3.5: a few dozen pixels of full colour, no legend.
    const int dot = one.count(series_color(0));
    EXPECT_GT(dot, 20);
    EXPECT_LT(dot, 60);
}

TEST(PlotPng, ManySeriesGetDistinctColors) {
    std::set<std::array<std::uint8_t, 3>> colors;
    for (std::size_t i = 0; i < 10; ++i) {
        colors.insert(series_color(i));
    }
    EXPECT_EQ(colors.size(), 10u);
    EXPECT_EQ(series_color(10), series_color(0));

    std::vector<Series> series;
    for (int k = 0; k < 4; ++k) {
        series.push_back(random_loss_curve("lr " + std::to_string(k), 100, 1.0 + k, 10 + k));
    }
    test::TempDir dir;
    write_loss_plot(dir.path() / "sweep.png", "sweep", series);
    const Image img = read_png(dir.path() / "sweep.png");
    for (std::size_t k = 0; k < series.size(); ++k) {
        EXPECT_GT(img.count(series_color(k)), 100) << "series " << k;
    }
}

TEST(PlotPng, LegendOfManySeriesStaysInsideThePlot) {
    std::vector<Series> series;
    for (int k = 0; k < 40; ++k) {
        series.push_back(random_loss_curve("trial " + std::to_string(k), 60, 1.0 + 0.1 * k, k));
    }
    const std::string png = render_loss_plot("sweep", series);
    test::TempDir dir;
    write_loss_plot(dir.path() / "sweep.png", "sweep", series);
    EXPECT_EQ(read_bytes(dir.path() / "sweep.png"), png);
    const Image img = read_png(dir.path() / "sweep.png");
    for (std::size_t k = 0; k < 10; ++k) {
        EXPECT_GT(img.count(series_color(k)), 50) << "colour " << k;
    }
    // 40 legend rows would run far below the plot; the legend stops at "+N more" instead,
    // so the strip under the axis title stays blank.
    EXPECT_EQ(img.count(kWhite, 0, kPlotHeight - 10), kPlotWidth * 10);
}

TEST(PlotPng, RewritesAtomicallyAndReportsBadPaths) {
    test::TempDir dir;
    const fs::path path = dir.path() / "loss.png";
    write_loss_plot(path, "first", {random_loss_curve("a", 10, 1.0, 3)});
    const std::string first = read_bytes(path);
    write_loss_plot(path, "second", {random_loss_curve("a", 20, 1.0, 4)});
    EXPECT_NE(read_bytes(path), first);
    EXPECT_EQ(fs::directory_iterator(dir.path())->path(), path);  // no temp file left

    EXPECT_THROW(write_loss_plot(dir.path() / "missing" / "loss.png", "x", {}), Error);
}

TEST(PlotPng, LongTitlesAndLabelsAndHugeValuesStillRender) {
    std::string long_title(300, 'x');
    Series s{"a label with unicode \xce\xbb=0.1 and " + std::string(200, 'y'), {}, true};
    const std::vector<float> v = test::random_floats(30, 0.5f, 1.5f);
    for (std::size_t i = 0; i < v.size(); ++i) {
        s.points.emplace_back(1e8 * static_cast<double>(i), 1e-6 * v[i]);
    }
    test::TempDir dir;
    write_loss_plot(dir.path() / "odd.png", long_title, {s});
    const Image img = read_png(dir.path() / "odd.png");
    EXPECT_EQ(img.width, kPlotWidth);
    EXPECT_GT(img.count(series_color(0)), 50);
}

TEST(PlotAxis, TicksAreNiceAndCoverTheData) {
    std::mt19937_64 rng(test::test_seed());
    std::uniform_real_distribution<double> exponent(-5.0, 6.0), unit(0.0, 1.0);
    for (int trial = 0; trial < 200; ++trial) {
        const double scale = std::pow(10.0, exponent(rng));
        const double a = unit(rng) * scale, b = a + (0.01 + unit(rng)) * scale;
        const AxisTicks t = nice_ticks(a, b, 6);
        ASSERT_LE(t.lo, a);
        ASSERT_GE(t.hi, b);
        ASSERT_GE(t.values.size(), 3u) << a << " " << b;
        ASSERT_LE(t.values.size(), 13u) << a << " " << b;
        // step = 1, 2 or 5 times a power of ten
        const double mantissa = t.step / std::pow(10.0, std::floor(std::log10(t.step)));
        EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 ||
                    std::fabs(mantissa - 5) < 1e-9)
            << t.step;
        std::set<std::string> labels;
        for (double v : t.values) {
            labels.insert(tick_label(v, t));
        }
        EXPECT_EQ(labels.size(), t.values.size()) << "labels must tell ticks apart";
    }
}

TEST(PlotAxis, LabelsAndDegenerateRanges) {
    const AxisTicks loss = nice_ticks(1.43, 3.87, 7);
    EXPECT_DOUBLE_EQ(loss.step, 0.5);
    EXPECT_DOUBLE_EQ(loss.lo, 1.0);
    EXPECT_DOUBLE_EQ(loss.hi, 4.0);
    EXPECT_EQ(tick_label(loss.values[1], loss), "1.5");
    const AxisTicks steps = nice_ticks(1, 1000, 6);
    EXPECT_DOUBLE_EQ(steps.step, 200);
    EXPECT_EQ(tick_label(1000, steps), "1000");
    const AxisTicks around_zero = nice_ticks(-0.3, 0.3, 7);
    for (double v : around_zero.values) {
        EXPECT_NE(tick_label(v, around_zero), "-0.0");
    }
    const AxisTicks same = nice_ticks(2.5, 2.5, 5);
    EXPECT_LT(same.lo, 2.5);
    EXPECT_GT(same.hi, 2.5);
    EXPECT_EQ(tick_label(3e9, nice_ticks(1e9, 5e9, 5)), "3e+09");
    EXPECT_THROW(nice_ticks(std::nan(""), 1.0, 5), Error);
    EXPECT_THROW(nice_ticks(2.0, 1.0, 5), Error);
}

TEST(PlotFont, CoversTheCharactersThePlotNeeds) {
    for (char c :
         std::string("0123456789.-:/ ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")) {
        EXPECT_TRUE(font_has_glyph(c)) << "'" << c << "'";
    }
    std::set<Glyph> distinct;
    for (char c = '!'; c <= '~'; ++c) {
        EXPECT_TRUE(distinct.insert(glyph_for(c)).second) << "glyph of '" << c << "' repeats";
    }
    EXPECT_FALSE(font_has_glyph('\t'));
    EXPECT_EQ(glyph_for(' '), Glyph{});
}

TEST(PlotCanvas, TextIsDrawnWhereItIsMeasured) {
    Canvas canvas(200, 60, {255, 255, 255});
    const Rgb ink{10, 20, 30};
    canvas.draw_text(10, 10, "loss 2.5", ink, 2);
    const int w = text_width("loss 2.5", 2);
    EXPECT_EQ(w, (8 * kGlyphAdvance - 1) * 2);
    int inside = 0, outside = 0;
    for (int y = 0; y < canvas.height(); ++y) {
        for (int x = 0; x < canvas.width(); ++x) {
            const bool in_box = x >= 10 && x < 10 + w && y >= 10 && y < 10 + kGlyphHeight * 2;
            if (canvas.at(x, y) == ink) {
                (in_box ? inside : outside)++;
            }
        }
    }
    EXPECT_GT(inside, 100);
    EXPECT_EQ(outside, 0);
    EXPECT_EQ(text_fit("short", 2, 1000), "short");
    const std::string cut = text_fit(std::string(100, 'a'), 2, 120);
    EXPECT_LE(text_width(cut, 2), 120);
    EXPECT_EQ(cut.substr(cut.size() - 3), "...");
    EXPECT_EQ(text_width("\xce\xbb", 1), kGlyphWidth);  // one code point, one cell
}

TEST(PlotCanvas, MasksMergeByMaximumAndAntiAlias) {
    CoverageMask mask({0, 0, 50, 50});
    mask.add_polyline({{5.5, 25.5}, {25.5, 25.5}, {45.5, 25.5}}, 2.0);
    Canvas canvas(50, 50, {255, 255, 255});
    const Rgb blue{31, 119, 180};
    mask.composite(canvas, blue);
    EXPECT_EQ(canvas.at(25, 25), blue);  // the joint is no darker than the segments
    EXPECT_EQ(canvas.at(15, 25), blue);
    EXPECT_EQ(canvas.at(15, 10), (Rgb{255, 255, 255}));
    const Rgb edge = canvas.at(15, 24);  // centre 1 px off a 2 px line: half covered
    EXPECT_NE(edge, blue);
    EXPECT_NE(edge, (Rgb{255, 255, 255}));
    EXPECT_EQ(mask.covered_pixels({0, 0, 50, 20}), 0);
    EXPECT_GT(mask.covered_pixels({0, 20, 50, 30}), 40);
}

}  // namespace
}  // namespace qforge::train
