// What is here: tests of launcher/progress.h: the rendered line (percent, counts, ETA, fields,
// widths), the redraw throttling on terminals and in logs, and terminal detection on a pty.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <optional>
#include <poll.h>
#include <random>
#include <string>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

#include "launcher/progress.h"
#include "support/test_support.h"

namespace qforge::launcher {
namespace {

// Everything written to a tmpfile() so far.
std::string contents(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
        out.append(buf, n);
    }
    return out;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n') {
            lines.push_back(text.substr(start, i - start));
            start = i + 1;
        }
    }
    EXPECT_EQ(start, text.size()) << "output must end with a newline";
    return lines;
}

int count_of(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) {
        ++n;
    }
    return n;
}

// Sets or clears $COLUMNS for one test and restores it afterwards.
class ColumnsEnv {
public:
    explicit ColumnsEnv(const char* value) {
        if (const char* old = std::getenv("COLUMNS")) {
            old_ = old;
        }
        value ? ::setenv("COLUMNS", value, 1) : ::unsetenv("COLUMNS");
    }

    ~ColumnsEnv() { old_ ? ::setenv("COLUMNS", old_->c_str(), 1) : ::unsetenv("COLUMNS"); }

private:
    std::optional<std::string> old_;
};

TEST(ProgressRender, MatchesTheDocumentedLayout) {
    const ProgressState s{"train", 37, 100, 12.0, {{"loss", "2.314"}, {"tok/s", "5120"}}, -1};
    const std::string line = render_progress_line(s, 100, true);
    const std::string head = "train  37% |";
    const std::string tail = "| 37/100 [00:12<00:20, loss 2.314, tok/s 5120]";
    ASSERT_EQ(line.substr(0, head.size()), head);
    ASSERT_EQ(line.substr(line.size() - tail.size()), tail);
    EXPECT_EQ(display_columns(line), 99);  // fills the width, leaving the last column free
    // The bar between the pipes: 37% of its cells in eighths.
    const std::string bar = line.substr(head.size(), line.size() - head.size() - tail.size());
    const int cells = display_columns(bar);
    const int full = count_of(bar, "█");
    EXPECT_EQ(full, static_cast<int>(std::floor(0.37 * cells)));
    EXPECT_EQ(count_of(bar, " "), cells - full - 1);  // one partial block, the rest blank
}

TEST(ProgressRender, RandomStatesKeepTheirInvariants) {
    std::mt19937_64 rng(test::test_seed());
    for (int trial = 0; trial < 500; ++trial) {
        const int64_t total = std::uniform_int_distribution<int64_t>(1, 1'000'000)(rng);
        const int64_t done = std::uniform_int_distribution<int64_t>(1, total)(rng);
        const double elapsed = std::uniform_real_distribution<double>(0.5, 90000.0)(rng);
        const int width = std::uniform_int_distribution<int>(20, 200)(rng);
        const ProgressState s{"eval", done, total, elapsed, {{"f1", "0.5"}}, -1};
        const std::string line = render_progress_line(s, width, true);
        SCOPED_TRACE(line);
        EXPECT_LE(display_columns(line), width - 1);
        const int percent = static_cast<int>(100 * done / total);
        EXPECT_EQ(line.rfind(fmt::format("eval {:3d}%", percent), 0), 0u);
        const std::string unclipped = render_progress_line(s, width, false);
        const std::string counts = fmt::format("{}/{} [", done, total);
        EXPECT_NE(unclipped.find(counts), std::string::npos);
        const double eta = elapsed * static_cast<double>(total - done) / static_cast<double>(done);
        EXPECT_NE(unclipped.find(fmt::format("<{}, f1 0.5]", format_duration(eta))),
                  std::string::npos);
        EXPECT_NE(unclipped.find(fmt::format("[{}<", format_duration(elapsed))), std::string::npos);
    }
}

TEST(ProgressRender, EtaUnknownBeforeProgressAndZeroAtTheEnd) {
    EXPECT_NE(render_progress_line({"x", 0, 10, 3.0, {}, -1}, 80, true).find("[00:03<?]"),
              std::string::npos);
    const std::string end = render_progress_line({"x", 10, 10, 65.0, {}, -1}, 80, true);
    EXPECT_NE(end.find("x 100% |"), std::string::npos);
    EXPECT_NE(end.find("| 10/10 [01:05<00:00]"), std::string::npos);
    const std::string full_bar = end.substr(end.find('|') + 1, end.rfind('|') - end.find('|') - 1);
    EXPECT_EQ(count_of(full_bar, "█"), display_columns(full_bar));  // no blank cells
    // Past the total (a resumed run, say) the bar stays full and the count tells the truth.
    const std::string over = render_progress_line({"x", 12, 10, 5.0, {}, -1}, 80, true);
    EXPECT_NE(over.find("x 100% |"), std::string::npos);
    EXPECT_NE(over.find("12/10 [00:05<00:00]"), std::string::npos);
}

TEST(ProgressRender, DurationsAndNarrowTerminals) {
    EXPECT_EQ(format_duration(0.4), "00:00");
    EXPECT_EQ(format_duration(59.4), "00:59");
    EXPECT_EQ(format_duration(61), "01:01");
    EXPECT_EQ(format_duration(3599.4), "59:59");
    EXPECT_EQ(format_duration(3599.6), "1:00:00");
    EXPECT_EQ(format_duration(3725), "1:02:05");
    EXPECT_EQ(format_duration(360000 + 61), "100:01:01");
    EXPECT_EQ(format_duration(-1), "?");
    EXPECT_EQ(format_duration(std::nan("")), "?");
    EXPECT_EQ(format_duration(INFINITY), "?");

    const ProgressState s{"train", 5, 100, 2.0, {{"loss", "2.314"}}, -1};
    const std::string narrow = render_progress_line(s, 40, true);
    EXPECT_EQ(narrow.find('|'), std::string::npos) << "no room for a bar: " << narrow;
    EXPECT_EQ(display_columns(narrow), 39);
    EXPECT_EQ(narrow.rfind("train   5% 5/100 [00:02<00:38, ", 0), 0u) << narrow;
    // Unclipped (log) lines keep every field however narrow the width.
    EXPECT_NE(render_progress_line(s, 40, false).find("loss 2.314]"), std::string::npos);
}

TEST(ProgressRender, UnknownTotalShowsSpinnerAndCount) {
    const std::string a =
        render_progress_line({"index", 1234, 0, 75.0, {{"docs/s", "16"}}, 0}, 80, true);
    EXPECT_EQ(a, "index ⠋ 1234 [01:15, docs/s 16]");
    const std::string b = render_progress_line({"index", 1240, -1, 75.0, {}, 1}, 80, true);
    EXPECT_EQ(b, "index ⠙ 1240 [01:15]");
    EXPECT_EQ(render_progress_line({"index", 7, 0, 1.0, {}, -1}, 80, true), "index 7 [00:01]");
}

// A clock the test moves by hand.
struct FakeClock {
    double t = 1000.0;

    std::function<double()> fn() {
        return [this] {
            return t;
        };
    }
};

TEST(ProgressBar, LogOutputPrintsEveryFivePercent) {
    FakeClock clock;
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    {
        ProgressBar bar("train", 1000, f, {false, 80, clock.fn()});
        for (int64_t i = 1; i <= 1000; ++i) {
            clock.t += 0.001;
            bar.update(i, {{"loss", fmt::format("{:.3f}", 3.0 - i * 0.001)}});
        }
        bar.finish();
        bar.update(5);  // ignored after finish
    }
    const std::string text = contents(f);
    std::fclose(f);
    EXPECT_EQ(text.find('\r'), std::string::npos);
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    const auto lines = split_lines(text);
    // The first update, then every 50 units (5%) after it, then the last: 1, 51, ..., 951, 1000.
    ASSERT_EQ(lines.size(), 21u) << text;
    EXPECT_EQ(lines[0].rfind("train   0% |", 0), 0u) << lines[0];
    EXPECT_NE(lines[1].find(" 51/1000 ["), std::string::npos) << lines[1];
    EXPECT_NE(lines[1].find("loss 2.949]"), std::string::npos) << lines[1];
    EXPECT_NE(lines.back().find("1000/1000 [00:01<00:00, loss 2.000]"), std::string::npos)
        << lines.back();
}

TEST(ProgressBar, LogOutputPrintsEveryTenSecondsWhenSlow) {
    FakeClock clock;
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    ProgressBar bar("eval", 1'000'000, f, {false, 80, clock.fn()});
    for (int64_t i = 1; i <= 20; ++i) {
        clock.t += 3.0;
        bar.update(i);
    }
    // Printed at t = 3 (first), 15, 27, 39, 51: each at least 10 s after the previous.
    EXPECT_EQ(split_lines(contents(f)).size(), 5u);
    bar.finish();  // the last update (t = 60) was not shown yet
    const auto lines = split_lines(contents(f));
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_NE(lines.back().find(" 20/1000000 [01:00<"), std::string::npos) << lines.back();
    std::fclose(f);
}

TEST(ProgressBar, TerminalRedrawsInPlaceAtMostTenTimesASecond) {
    FakeClock clock;
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    ProgressBar bar("train", 1000, f, {true, 100, clock.fn()});
    for (int64_t i = 1; i <= 1000; ++i) {
        clock.t += 0.002;  // two seconds in all
        bar.update(i, {{"loss", "1.5"}});
        if (i == 500) {
            bar.message("step 500: checkpoint saved");
        }
    }
    bar.finish();
    const std::string text = contents(f);
    std::fclose(f);
    // First draw, one every 0.1 s, the last update, the redraw after the message and the
    // final one of finish().
    const int draws = count_of(text, "\r");
    EXPECT_GE(draws, 20);
    EXPECT_LE(draws, 25);
    EXPECT_EQ(text.rfind("\rtrain   0% |", 0), 0u);
    EXPECT_NE(text.find("\r\x1b[Kstep 500: checkpoint saved\n\rtrain  50% |"), std::string::npos);
    EXPECT_EQ(count_of(text, "\n"), 2);  // the message and finish()
    const std::string end = "| 1000/1000 [00:02<00:00, loss 1.5]\x1b[K\n";
    EXPECT_EQ(text.substr(text.size() - end.size()), end);
    for (const auto& line : split_lines(text)) {
        const std::string last = line.substr(line.rfind('\r') + 1);
        EXPECT_LE(display_columns(last), 99 + 3);  // + the 3 bytes of "\x1b[K"
    }
}

TEST(ProgressBar, TerminalSpinnerForUnknownTotal) {
    FakeClock clock;
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    {
        ProgressBar bar("index", 0, f, {true, 80, clock.fn()});
        for (int64_t i = 1; i <= 3; ++i) {
            clock.t += 0.6;
            bar.update(i * 100);
        }
    }  // the destructor finishes the bar
    const std::string text = contents(f);
    std::fclose(f);
    EXPECT_EQ(text,
              "\rindex ⠋ 100 [00:01]\x1b[K\rindex ⠙ 200 [00:01]\x1b[K\rindex ⠹ 300 [00:02]\x1b[K"
              "\rindex ⠸ 300 [00:02]\x1b[K\n");
}

TEST(ProgressBar, WidthComesFromColumnsAndSilentBarPrintsNothing) {
    ColumnsEnv env("50");
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    ProgressBar bar("w", 10, f);  // not a terminal: plain lines
    bar.update(3);
    bar.message("hello");
    bar.update(10);
    bar.finish();  // the final state is already printed
    const auto lines = split_lines(contents(f));
    std::fclose(f);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(display_columns(lines[0]), 49) << lines[0];
    EXPECT_EQ(lines[1], "hello");
    EXPECT_EQ(display_columns(lines[2]), 49) << lines[2];

    ProgressBar silent("quiet", 10, nullptr);
    silent.update(5, {{"a", "b"}});
    silent.message("nobody sees this");
    silent.finish();
}

// A pseudo-terminal: the bar must detect it and read its width with TIOCGWINSZ.
TEST(ProgressBar, DetectsATerminalAndItsWidth) {
    ColumnsEnv env(nullptr);
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
        GTEST_SKIP() << "no pseudo-terminals here";
    }
    const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
    ASSERT_GE(slave, 0);
    termios raw{};
    ASSERT_EQ(::tcgetattr(slave, &raw), 0);
    ::cfmakeraw(&raw);  // no "\n" -> "\r\n" translation
    ASSERT_EQ(::tcsetattr(slave, TCSANOW, &raw), 0);
    winsize ws{};
    ws.ws_col = 64;
    ws.ws_row = 20;
    ASSERT_EQ(::ioctl(slave, TIOCSWINSZ, &ws), 0);
    std::FILE* out = ::fdopen(slave, "w");
    ASSERT_NE(out, nullptr);
    {
        ProgressBar bar("tty", 8, out);
        bar.update(2, {{"loss", "3.1"}});
        bar.finish();
    }
    std::fclose(out);
    std::string text;
    char buf[1024];
    pollfd pfd{master, POLLIN, 0};
    while (::poll(&pfd, 1, 200) > 0 && (pfd.revents & POLLIN)) {
        const ssize_t n = ::read(master, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(master);
    ASSERT_EQ(text.rfind("\rtty  25% |", 0), 0u) << text;
    const std::string first = text.substr(1, text.find("\x1b[K") - 1);
    EXPECT_EQ(display_columns(first), 63) << first;
    EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace qforge::launcher
