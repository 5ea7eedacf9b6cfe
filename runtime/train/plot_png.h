// What is here: the loss-curve plot the trainer writes beside its checkpoints (an 800x500 PNG).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace qforge::train {

struct Series {
    std::string label;  // legend text; series with an empty label are left out of the legend
    std::vector<std::pair<double, double>> points;  // (x = step, y = loss), drawn in order
    bool markers = false;  // a dot on every point as well as the line (e.g. validation loss)
};

inline constexpr int kPlotWidth = 800;
inline constexpr int kPlotHeight = 500;

// Writes a kPlotWidth x kPlotHeight RGB PNG: axes with "nice" numeric ticks (x: step,
// y: loss), light grid lines, `title` on top, one line per series in series_color(i), and a
// legend in the corner of the plot where it hides the least data. Points with a NaN or
// infinite coordinate are skipped; a series with one point is drawn as a dot; no series or
// no points at all still give a valid image (empty axes). The file is replaced atomically.
void write_loss_plot(const std::filesystem::path& path, const std::string& title,
                     const std::vector<Series>& series);

// The PNG bytes that write_loss_plot writes.
std::string render_loss_plot(const std::string& title, const std::vector<Series>& series);

// The RGB colour of series `index` (a ten-colour palette, repeated after ten series).
std::array<std::uint8_t, 3> series_color(std::size_t index);

}  // namespace qforge::train
