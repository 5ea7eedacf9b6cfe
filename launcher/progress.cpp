// What is here: the progress bar of progress.h: pure line rendering, plus the throttling that
// decides when a terminal is redrawn and when a log gets a new line.
#include "launcher/progress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace qforge::launcher {
namespace {

constexpr double kTtyInterval = 0.1;   // seconds between terminal redraws
constexpr double kLogInterval = 10.0;  // seconds between log lines without 5% of progress
constexpr int64_t kLogSteps = 20;      // a log line every 1/20 of the total
constexpr int kDefaultColumns = 100;
constexpr int kMinBar = 5;

// Eighths of a block: kBlocks[k] is k/8 of a cell filled.
constexpr const char* kBlocks[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"};
constexpr const char* kSpinner[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0u) == 0x80u;
}

// The first `columns` columns of `text` (whole code points).
std::string cut_columns(const std::string& text, int columns) {
    int seen = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!is_continuation(text[i]) && seen++ == columns) {
            return text.substr(0, i);
        }
    }
    return text;
}

std::string bar(double fraction, int cells) {
    const auto eighths =
        static_cast<int64_t>(std::floor(std::clamp(fraction, 0.0, 1.0) * cells * 8));
    std::string out;
    for (int64_t i = 0; i < eighths / 8; ++i) {
        out += kBlocks[8];
    }
    if (eighths % 8 != 0) {
        out += kBlocks[eighths % 8];
    }
    const auto used = static_cast<int>((eighths + 7) / 8);
    out.append(static_cast<std::size_t>(cells - used), ' ');
    return out;
}

}  // namespace

int display_columns(const std::string& text) {
    return static_cast<int>(
        std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation(c); }));
}

std::string format_duration(double seconds) {
    if (!(seconds >= 0.0) || !std::isfinite(seconds)) {
        return "?";
    }
    const auto s = static_cast<int64_t>(std::llround(seconds));
    if (s < 3600) {
        return fmt::format("{:02d}:{:02d}", s / 60, s % 60);
    }
    return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
}

std::string render_progress_line(const ProgressState& state, int width, bool clip) {
    const int usable = std::max(width, 10) - 1;
    std::string times = format_duration(state.elapsed_s);
    if (state.total > 0) {
        const double left = state.done >= state.total ? 0.0
                            : state.done > 0
                                ? state.elapsed_s * static_cast<double>(state.total - state.done) /
                                      static_cast<double>(state.done)
                                : -1.0;
        times += '<';
        times += format_duration(left);
    }
    // Built with fmt and append: g++ 12 -O3 reports a false -Wrestrict for "lit" + string.
    std::string bracket = fmt::format("[{}", times);
    for (const auto& [name, value] : state.fields) {
        bracket += fmt::format(", {} {}", name, value);
    }
    bracket += ']';
    const std::string label = state.label.empty() ? std::string() : fmt::format("{} ", state.label);

    std::string line;
    if (state.total > 0) {
        const double fraction = static_cast<double>(state.done) / static_cast<double>(state.total);
        const int percent = static_cast<int>(std::clamp(std::floor(fraction * 100.0), 0.0, 100.0));
        const std::string head = fmt::format("{}{:3d}%", label, percent);
        const std::string tail = fmt::format(" {}/{} {}", state.done, state.total, bracket);
        const int cells = usable - display_columns(head) - display_columns(tail) - 3;
        line = cells >= kMinBar ? fmt::format("{} |{}|{}", head, bar(fraction, cells), tail)
                                : head + tail;
    } else {
        const std::string spin =
            state.spinner >= 0
                ? fmt::format(
                      "{} ",
                      kSpinner[static_cast<std::size_t>(state.spinner) % std::size(kSpinner)])
                : std::string();
        line = fmt::format("{}{}{} {}", label, spin, state.done, bracket);
    }
    return clip ? cut_columns(line, usable) : line;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::FILE* out)
    : ProgressBar(std::move(label), total, out, ProgressOptions{}) {}

ProgressBar::ProgressBar(std::string label, int64_t total, std::FILE* out, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      width_(options.width),
      clock_(std::move(options.clock)) {
    if (out_ != nullptr) {
        tty_ = options.tty.has_value() ? *options.tty : ::isatty(::fileno(out_)) == 1;
    }
    start_ = now();
}

ProgressBar::~ProgressBar() {
    try {
        finish();
    } catch (const std::exception&) {
        // A destructor must not throw; a failed final redraw loses nothing.
    }
}

double ProgressBar::now() const {
    if (clock_) {
        return clock_();
    }
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

int ProgressBar::columns() const {
    if (width_ > 0) {
        return width_;
    }
    if (const char* env = std::getenv("COLUMNS"); env != nullptr) {
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end != env && *end == '\0' && n > 0 && n < 100000) {
            return static_cast<int>(n);
        }
    }
    winsize ws{};
    if (out_ != nullptr && ::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return kDefaultColumns;
}

ProgressState ProgressBar::state(int spinner) const {
    return {label_, done_, total_, now() - start_, fields_, spinner};
}

void ProgressBar::draw_tty() {
    const std::string line =
        render_progress_line(state(total_ > 0 ? -1 : spinner_++), columns(), true);
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());  // \x1b[K: erase what a longer line left
    std::fflush(out_);
    drawn_ = true;
    last_draw_ = now();
}

void ProgressBar::print_line() {
    const std::string line = render_progress_line(state(-1), columns(), false);
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
    drawn_ = true;
    pending_ = false;
    last_draw_ = now();
    last_printed_done_ = done_;
}

void ProgressBar::update(int64_t done, const ProgressFields& fields) {
    if (finished_ || out_ == nullptr) {
        return;
    }
    done_ = done;
    if (!fields.empty()) {
        fields_ = fields;
    }
    const bool last = total_ > 0 && done >= total_;
    const double since = now() - last_draw_;
    if (tty_) {
        if (!drawn_ || last || since >= kTtyInterval) {
            draw_tty();
        }
        return;
    }
    pending_ = true;
    const bool stepped = total_ > 0 && (done - last_printed_done_) * kLogSteps >= total_;
    const bool repeat_of_last = last && last_printed_done_ == done && drawn_;
    if (!repeat_of_last && (!drawn_ || last || stepped || since >= kLogInterval)) {
        print_line();
    }
}

void ProgressBar::message(const std::string& line) {
    if (out_ == nullptr) {
        return;
    }
    if (tty_ && drawn_ && !finished_) {
        std::fprintf(out_, "\r\x1b[K%s\n", line.c_str());
        draw_tty();
        return;
    }
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
}

void ProgressBar::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (out_ == nullptr) {
        return;
    }
    if (tty_) {
        draw_tty();
        std::fputc('\n', out_);
        std::fflush(out_);
    } else if (pending_ || !drawn_) {
        print_line();
    }
}

}  // namespace qforge::launcher
