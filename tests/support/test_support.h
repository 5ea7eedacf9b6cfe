// What is here: helpers every test suite shares: where the shipped data lives, replayable
// seeds, temp directories, and golden-file paths.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace qforge::test {

// ../shared/data, or $QFORGE_DATA when set.
std::filesystem::path data_dir();

// tests/golden/ in the source tree (committed golden outputs of the Hugging Face oracles).
std::filesystem::path golden_dir();

// A seed derived from the running test's full name and $QF_TEST_SEED (default 0), printed
// once per test so a failure can be replayed.
std::uint64_t test_seed();

// Uniform random floats in [lo, hi) from test_seed(); never all zeros.
std::vector<float> random_floats(std::size_t n, float lo = -1.0f, float hi = 1.0f,
                                 std::uint64_t salt = 0);

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace qforge::test

namespace qforge::test {

struct CommandResult {
    int exit_code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

// Runs `command` through /bin/sh, capturing stdout and stderr separately.
CommandResult run_command(const std::string& command);

// Writes `text` to `file` (creating its parent directories) / reads a whole file ("" if absent).
void write_text(const std::filesystem::path& file, const std::string& text);
std::string read_text(const std::filesystem::path& file);

}  // namespace qforge::test
