// What is here: tests of runtime/io/atomic_file.h: the target is always either the complete
// old file or the complete new one, and no temp file survives any outcome.
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <iterator>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "kernels/common.h"
#include "runtime/io/atomic_file.h"
#include "support/test_support.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Random printable bytes of length n (so a partial write would be visible).
std::string random_text(std::size_t n, uint64_t salt) {
    std::string s;
    for (float v : test::random_floats(n, 33.0f, 126.0f, salt)) {
        s.push_back(static_cast<char>(v));
    }
    return s;
}

void expect_no_temp_files(const fs::path& dir) {
    for (const auto& entry : fs::directory_iterator(dir)) {
        EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos)
            << "left behind: " << entry.path();
    }
}

TEST(AtomicFile, WritesANewFile) {
    test::TempDir dir;
    const fs::path p = dir.path() / "new.bin";
    const std::string text = random_text(10000, 1);
    write_file_atomic(p, text);
    EXPECT_EQ(read_all(p), text);
    expect_no_temp_files(dir.path());
}

TEST(AtomicFile, ReplacesAnExistingFile) {
    test::TempDir dir;
    const fs::path p = dir.path() / "ckpt.bin";
    write_file_atomic(p, random_text(5000, 1));
    const std::string second = random_text(300, 2);  // shorter: no stale tail may remain
    write_file_atomic(p, second);
    EXPECT_EQ(read_all(p), second);
    expect_no_temp_files(dir.path());
}

TEST(AtomicFile, StreamingWriterCommitsAllChunks) {
    test::TempDir dir;
    const fs::path p = dir.path() / "chunks.bin";
    const std::string a = random_text(4097, 1), b = random_text(1, 2), c = random_text(70000, 3);
    AtomicFileWriter w(p);
    EXPECT_EQ(w.temp_path(), fs::path(p.string() + ".tmp." + std::to_string(::getpid())));
    w.write(a.data(), a.size());
    w.write(b.data(), b.size());
    w.write(c.data(), c.size());
    EXPECT_FALSE(fs::exists(p));  // nothing visible before commit
    w.commit();
    EXPECT_EQ(read_all(p), a + b + c);
    EXPECT_THROW(w.commit(), Error);
    EXPECT_THROW(w.write(a.data(), 1), Error);
}

TEST(AtomicFile, DestroyedWithoutCommitLeavesTheOldFileIntact) {
    test::TempDir dir;
    const fs::path p = dir.path() / "model.safetensors";
    const std::string old_text = random_text(2048, 1);
    write_file_atomic(p, old_text);
    {
        AtomicFileWriter w(p);
        const std::string partial = random_text(999, 2);
        w.write(partial.data(), partial.size());
        EXPECT_TRUE(fs::exists(w.temp_path()));
    }
    EXPECT_EQ(read_all(p), old_text);
    expect_no_temp_files(dir.path());
}

TEST(AtomicFile, AnExceptionMidWriteLeavesTheOldFileIntact) {
    test::TempDir dir;
    const fs::path p = dir.path() / "state.bin";
    const std::string old_text = random_text(512, 1);
    write_file_atomic(p, old_text);
    try {
        AtomicFileWriter w(p);
        w.write("partial", 7);
        throw std::runtime_error("simulated failure while serialising");
    } catch (const std::runtime_error&) {}
    EXPECT_EQ(read_all(p), old_text);
    expect_no_temp_files(dir.path());
}

TEST(AtomicFile, MovedWriterOwnsTheTempFile) {
    test::TempDir dir;
    const fs::path p = dir.path() / "moved.bin";
    AtomicFileWriter a(p);
    a.write("abc", 3);
    AtomicFileWriter b(std::move(a));
    b.write("def", 3);
    b.commit();
    EXPECT_EQ(read_all(p), "abcdef");
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
    test::TempDir dir;
    const fs::path p = dir.path() / "no/such/dir/out.bin";
    try {
        write_file_atomic(p, "x");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr(p.string()), HasSubstr("cannot create temp file")));
    }
}

TEST(AtomicFile, FailedRenameRemovesTheTempAndKeepsTheTarget) {
    // Renaming a file over a non-empty directory fails; the directory must survive untouched.
    test::TempDir dir;
    const fs::path p = dir.path() / "occupied";
    fs::create_directories(p / "inner");
    try {
        write_file_atomic(p, random_text(100, 1));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr(p.string()), HasSubstr("renaming")));
    }
    EXPECT_TRUE(fs::is_directory(p / "inner"));
    expect_no_temp_files(dir.path());
}

}  // namespace
}  // namespace qforge::io
