// What is here: the progress bar rank 0 shows during long work (training, indexing, eval).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qforge::launcher {

// Extra "name value" pairs shown after the times, e.g. {"loss", "2.314"}, {"tok/s", "5120"}.
using ProgressFields = std::vector<std::pair<std::string, std::string>>;

// What one line of the bar shows.
struct ProgressState {
    std::string label;
    int64_t done = 0;
    int64_t total = 0;  // <= 0: unknown, so a count instead of a bar
    double elapsed_s = 0;
    ProgressFields fields;
    int spinner = -1;  // spinner frame shown for an unknown total; < 0: none
};

// One line, without '\r' or '\n':
//   known total:   "label  37% |█████▌     | 37/100 [00:12<00:20, loss 2.314, tok/s 5120]"
//   unknown total: "label ⠹ 37 [00:12, loss 2.314]"
// The ETA comes from the average rate so far ("?" before any progress). The bar takes the
// columns of `width` that the text leaves (one column stays free so a terminal never wraps);
// it is dropped below 5 columns. With `clip`, text wider than that is cut to fit.
std::string render_progress_line(const ProgressState& state, int width, bool clip);

// "MM:SS" below an hour, "H:MM:SS" from an hour on; negative or NaN durations give "?".
std::string format_duration(double seconds);

// Columns of a UTF-8 string, counting one per code point.
int display_columns(const std::string& text);

struct ProgressOptions {
    std::optional<bool> tty;        // unset: isatty(fileno(out))
    int width = 0;                  // > 0: fixed; else $COLUMNS, then TIOCGWINSZ, then 100
    std::function<double()> clock;  // seconds on a monotonic clock; unset: steady_clock
};

// On a terminal the bar is redrawn in place with '\r' at most 10 times a second (the first
// update and the one reaching `total` always draw). Elsewhere (CI logs, redirected output)
// it prints a plain line at most every 5% of progress or every 10 s, so logs stay readable.
// `out` == nullptr makes a silent bar, for the ranks other than 0.
class ProgressBar {
public:
    ProgressBar(std::string label, int64_t total, std::FILE* out = stderr);
    ProgressBar(std::string label, int64_t total, std::FILE* out, ProgressOptions options);
    ~ProgressBar();  // finish()es a bar left unfinished (e.g. by an exception)
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    // `done` units of `total` are complete. Non-empty `fields` replace the shown fields;
    // empty ones keep the previous fields.
    void update(int64_t done, const ProgressFields& fields = {});

    // Prints `line` on its own line above the bar (a terminal's bar line is cleared first and
    // redrawn below).
    void message(const std::string& line);

    // Shows the final state and ends the line; later updates are ignored. Idempotent.
    void finish();

private:
    double now() const;
    int columns() const;
    ProgressState state(int spinner) const;
    void draw_tty();
    void print_line();

    std::string label_;
    int64_t total_;
    std::FILE* out_;
    bool tty_ = false;
    int width_ = 0;
    std::function<double()> clock_;
    double start_ = 0;

    int64_t done_ = 0;
    ProgressFields fields_;
    bool drawn_ = false;    // anything shown yet
    bool pending_ = false;  // an update not shown yet (non-TTY)
    bool finished_ = false;
    double last_draw_ = 0;  // clock time of the last redraw or printed line
    int64_t last_printed_done_ = 0;
    int spinner_ = 0;
};

}  // namespace qforge::launcher
