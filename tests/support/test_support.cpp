// What is here: tests/support/test_support.h.
#include "support/test_support.h"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <iterator>
#include <sys/wait.h>

namespace qforge::test {

std::filesystem::path data_dir() {
    if (const char* env = std::getenv("QFORGE_DATA"); env && *env) {
        return env;
    }
    return QFORGE_TEST_DATA_DIR;
}

std::filesystem::path golden_dir() {
    return std::filesystem::path(QFORGE_SOURCE_DIR) / "tests/golden";
}

std::uint64_t test_seed() {
    std::uint64_t base = 0;
    if (const char* env = std::getenv("QF_TEST_SEED"); env && *env) {
        base = std::strtoull(env, nullptr, 10);
    }
    std::string name = "?";
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
        name = std::string(info->test_suite_name()) + "." + info->name();
    }
    const std::uint64_t seed = std::hash<std::string>{}(name) ^ (base * 0x9E3779B97F4A7C15ull);
    ::testing::Test::RecordProperty("QF_TEST_SEED", std::to_string(base));
    return seed;
}

std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint64_t salt) {
    std::mt19937_64 rng(test_seed() + salt);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> out(n);
    for (auto& v : out) {
        v = dist(rng);
    }
    return out;
}

TempDir::TempDir() {
    static std::mt19937_64 rng(std::random_device{}());
    path_ = std::filesystem::temp_directory_path() / ("qforge-test-" + std::to_string(rng()));
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace qforge::test

namespace qforge::test {

void write_text(const std::filesystem::path& file, const std::string& text) {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
}

std::string read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

CommandResult run_command(const std::string& command) {
    TempDir dir;
    const auto out_path = dir.path() / "stdout", err_path = dir.path() / "stderr";
    const std::string full =
        command + " >'" + out_path.string() + "' 2>'" + err_path.string() + "'";
    const int status = std::system(full.c_str());
    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto slurp = [](const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    result.out = slurp(out_path);
    result.err = slurp(err_path);
    return result;
}

}  // namespace qforge::test
