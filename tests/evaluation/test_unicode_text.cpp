// What is here: the Python str semantics the metrics rely on (isspace, \w, lower, split,
// rstrip, UTF-8 decoding), checked for every code point against the table that
// tests/golden/make_golden_metrics.py wrote from the oracle machine's Python.
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>

#include "evaluation/metrics/unicode_text.h"
#include "kernels/common.h"
#include "metrics_golden.h"

namespace qforge::eval::text {
namespace {

using nlohmann::json;

const json& python_unicode() {
    static const json j = test::read_json_file(test::golden_dir() / "metrics/python_unicode.json");
    return j;
}

// Membership vector over all code points from [[first, last], ...] ranges.
std::vector<bool> from_ranges(const json& ranges) {
    std::vector<bool> in(0x110000, false);
    for (const auto& r : ranges) {
        for (auto c = r[0].get<std::uint32_t>(); c <= r[1].get<std::uint32_t>(); ++c) {
            in[c] = true;
        }
    }
    return in;
}

// Code points both Python's and utf8proc's Unicode versions assign; outside them the two
// tables may legitimately disagree (a newer version adds letters).
std::vector<bool> comparable_code_points() {
    const auto py_unassigned = from_ranges(python_unicode().at("unassigned"));
    std::vector<bool> ok(0x110000, false);
    for (char32_t c = 0; c < 0x110000; ++c) {
        ok[c] = !(c >= 0xD800 && c < 0xE000) && !py_unassigned[c] && is_assigned(c);
    }
    return ok;
}

TEST(UnicodeText, IsSpaceMatchesPythonForEveryCodePoint) {
    const auto want = from_ranges(python_unicode().at("isspace"));
    const auto ok = comparable_code_points();
    std::size_t checked = 0;
    for (char32_t c = 0; c < 0x110000; ++c) {
        if (ok[c]) {
            ASSERT_EQ(is_space(c), want[c]) << std::hex << "U+" << static_cast<std::uint32_t>(c);
            ++checked;
        }
    }
    EXPECT_GT(checked, 140000u);
    RecordProperty("python_unicode", python_unicode().at("unicode").get<std::string>());
    RecordProperty("utf8proc_unicode", unicode_version());
}

TEST(UnicodeText, WordCharMatchesPythonRegexForEveryCodePoint) {
    const auto want = from_ranges(python_unicode().at("word"));
    const auto ok = comparable_code_points();
    for (char32_t c = 0; c < 0x110000; ++c) {
        if (ok[c]) {
            ASSERT_EQ(is_word_char(c), want[c])
                << std::hex << "U+" << static_cast<std::uint32_t>(c);
        }
    }
}

TEST(UnicodeText, LowerMatchesPythonForEveryCodePoint) {
    std::map<std::uint32_t, std::u32string> want;
    for (const auto& [key, value] : python_unicode().at("lower").items()) {
        std::u32string s;
        for (const auto& cp : value) {
            s += static_cast<char32_t>(cp.get<std::uint32_t>());
        }
        want[static_cast<std::uint32_t>(std::stoul(key, nullptr, 16))] = s;
    }
    EXPECT_GT(want.size(), 1000u);
    const auto ok = comparable_code_points();
    for (char32_t c = 0; c < 0x110000; ++c) {
        if (!ok[c]) {
            continue;
        }
        const auto it = want.find(static_cast<std::uint32_t>(c));
        const std::u32string expected = it == want.end() ? std::u32string(1, c) : it->second;
        ASSERT_EQ(lower(std::u32string(1, c)), expected)
            << std::hex << "U+" << static_cast<std::uint32_t>(c);
    }
}

TEST(UnicodeText, LowerHandlesFinalSigmaLikePython) {
    for (const auto& pair : python_unicode().at("sigma")) {
        const std::string in = pair[0].get<std::string>();
        const std::string want = pair[1].get<std::string>();
        EXPECT_EQ(utf8_encode(lower(utf8_decode(in, "test"))), want) << in;
    }
}

TEST(UnicodeText, SplitAndRstripFollowPythonWhitespace) {
    const std::u32string s = U"  a\u00a0b\u3000c\u2028\u2029d\te\n\u0085f\u200bg \u180e ";
    const auto words = split_whitespace(s);
    const std::vector<std::u32string_view> want = {U"a", U"b",        U"c",     U"d",
                                                   U"e", U"f\u200bg", U"\u180e"};
    EXPECT_EQ(words, want);
    EXPECT_EQ(rstrip_whitespace(U"x y \t\u3000\u00a0"), U"x y");
    EXPECT_EQ(rstrip_whitespace(U" \t "), U"");
    EXPECT_TRUE(split_whitespace(U"").empty());
    EXPECT_TRUE(split_whitespace(U" \n\t\u3000").empty());
}

TEST(UnicodeText, Utf8RoundTripsRandomCodePoints) {
    std::mt19937_64 rng(test::test_seed());
    std::uniform_int_distribution<std::uint32_t> dist(1, 0x10FFFF);
    std::u32string s;
    while (s.size() < 5000) {
        const std::uint32_t c = dist(rng);
        if (c < 0xD800 || c >= 0xE000) {
            s += static_cast<char32_t>(c);
        }
    }
    EXPECT_EQ(utf8_decode(utf8_encode(s), "test"), s);
}

TEST(UnicodeText, InvalidUtf8NamesWhatAndOffset) {
    const std::string bad[] = {
        std::string("ab\xff", 3),            // invalid lead byte
        std::string("ab\xc3", 3),            // truncated sequence
        std::string("\xc0\xaf", 2),          // overlong '/'
        std::string("x\xed\xa0\x80", 4),     // UTF-16 surrogate
        std::string("\xf4\x90\x80\x80", 4),  // > U+10FFFF
        std::string("ok\x80", 3),            // stray continuation byte
    };
    for (const auto& s : bad) {
        try {
            (void)utf8_decode(s, "hypothesis 7");
            ADD_FAILURE() << "accepted invalid UTF-8";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("hypothesis 7: invalid UTF-8 at byte"),
                      std::string::npos)
                << e.what();
        }
    }
}

}  // namespace
}  // namespace qforge::eval::text
