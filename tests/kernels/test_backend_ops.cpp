// What is here: the backend-ops harness, after ggml's tests/test-backend-ops.cpp. Every OpCase
// (backend_op_cases.cpp) runs on the CPU reference; when a GPU is present and the CUDA backend
// implements the op, it also runs there and the outputs are compared by normalized mean squared
// error. Every run, on either backend, is checked the same way: sentinel guard regions around
// every buffer (out-of-bounds writes), inputs bit-identical afterwards, no NaN/inf in outputs
// (kWrite outputs start as NaN, so an element left unwritten shows up too). On the CPU alone the
// += convention is also checked: two runs from different gradient pre-fills must add the same.
// The CUDA outputs of cases marked bit_exact() (NF4 dequantization) must equal the CPU's word for
// word, instead of by NMSE; the bf16 outputs of other cases must lie within one bf16 ulp of the
// CPU's (OpCase::bf16_abs_floor).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

#include "kernels/memory.h"
#include "kernels/op_case.h"
#include "kernels/registry.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::Device;

using CasePtr = std::shared_ptr<const OpCase>;

constexpr int64_t kGuard = 32;                   // sentinel elements on each side of a buffer
constexpr uint32_t kSentinelBits = 0x7FC5A5A5u;  // a quiet NaN: an op that reads it goes NaN

// One run's buffers as 4-byte words, guards included: [kGuard | count | kGuard].
using RunWords = std::vector<std::vector<uint32_t>>;

std::vector<uint32_t> data_words(const CaseTensor& t) {
    std::vector<uint32_t> words(static_cast<size_t>(t.count));
    if (t.dtype == kernels::DType::kI32) {
        std::memcpy(words.data(), t.i32.data(), words.size() * 4);
    } else {
        std::memcpy(words.data(), t.f32.data(), words.size() * 4);
    }
    return words;
}

float word_f32(uint32_t w) {
    return std::bit_cast<float>(w);
}

std::string seed_note() {
    const char* env = std::getenv("QF_TEST_SEED");
    return fmt::format("QF_TEST_SEED={}", env != nullptr ? env : "0");
}

// Fills and checks the host contents a case declared, so a case bug fails loudly here.
CaseTensors make_inputs(const OpCase& c, uint64_t salt) {
    CaseTensors t;
    c.build(t);
    std::mt19937_64 rng(test_seed() + salt);
    c.init_inputs(t, rng);
    for (const auto& x : t.all()) {
        const size_t have = x.dtype == kernels::DType::kI32 ? x.i32.size() : x.f32.size();
        QF_CHECK(have == static_cast<size_t>(x.count), "{}: tensor '{}' has {} values, declared {}",
                 c.name(), x.name, have, x.count);
    }
    return t;
}

// Uploads every tensor between sentinel guards, runs the case on `device`, downloads it all.
RunWords run_case(const OpCase& c, const CaseTensors& t, Device device) {
    const kernels::Ctx ctx{device, nullptr};
    std::vector<kernels::BackendBuffer> buffers;
    CaseBindings bindings(t);
    for (const auto& x : t.all()) {
        std::vector<uint32_t> words(static_cast<size_t>(x.count + 2 * kGuard), kSentinelBits);
        const auto data = data_words(x);
        std::copy(data.begin(), data.end(), words.begin() + kGuard);
        buffers.emplace_back(ctx, words.size() * 4);
        kernels::buffer_upload(ctx, buffers.back().data(), words.data(), words.size() * 4);
        bindings.bind(x.name, static_cast<uint32_t*>(buffers.back().data()) + kGuard);
    }
    c.run(ctx, bindings);
    kernels::stream_synchronize(ctx);
    RunWords out;
    for (size_t i = 0; i < buffers.size(); i++) {
        out.emplace_back(buffers[i].bytes() / 4);
        kernels::buffer_download(ctx, out.back().data(), buffers[i].data(), buffers[i].bytes());
    }
    return out;
}

// Guards intact, inputs unchanged, outputs finite.
::testing::AssertionResult check_run(const OpCase& c, const CaseTensors& t, const RunWords& r,
                                     std::string_view backend) {
    for (size_t i = 0; i < t.all().size(); i++) {
        const auto& x = t.all()[i];
        const auto& words = r[i];
        for (int64_t g = 0; g < kGuard; g++) {
            const int64_t tail = kGuard + x.count + g;
            if (words[g] != kSentinelBits || words[tail] != kSentinelBits) {
                const int64_t at = words[g] != kSentinelBits ? g - kGuard : x.count + g;
                return ::testing::AssertionFailure()
                       << c.name() << " on " << backend << ": out-of-bounds write to '" << x.name
                       << "' at element " << at << " (buffer has " << x.count << ")";
            }
        }
        const auto init = data_words(x);
        for (int64_t e = 0; e < x.count; e++) {
            const uint32_t w = words[kGuard + e];
            if (x.role == Role::kInput && w != init[e]) {
                return ::testing::AssertionFailure() << c.name() << " on " << backend << ": input '"
                                                     << x.name << "' was modified at element " << e;
            }
            if (x.role != Role::kInput && x.dtype == kernels::DType::kF32 &&
                !std::isfinite(word_f32(w))) {
                return ::testing::AssertionFailure()
                       << c.name() << " on " << backend << ": output '" << x.name << "' element "
                       << e << " is " << word_f32(w)
                       << (x.role == Role::kWrite ? " (never written, or NaN/inf computed)" : "");
            }
        }
    }
    return ::testing::AssertionSuccess();
}

// What the op produced in output i: the value, or for kAccumulate the amount it added.
std::vector<double> produced(const CaseTensor& x, const std::vector<uint32_t>& words) {
    std::vector<double> v(static_cast<size_t>(x.count));
    for (int64_t e = 0; e < x.count; e++) {
        v[e] = word_f32(words[kGuard + e]);
        if (x.role == Role::kAccumulate) {
            v[e] -= x.f32[e];
        }
    }
    return v;
}

// Every word of every buffer identical (OpCase::bit_exact); check_run has checked the guards.
::testing::AssertionResult compare_bits(const OpCase& c, const CaseTensors& t, const RunWords& want,
                                        const RunWords& got, std::string_view what) {
    for (size_t i = 0; i < t.all().size(); i++) {
        const auto& x = t.all()[i];
        for (int64_t e = 0; e < x.count; e++) {
            const uint32_t a = want[i][kGuard + e], b = got[i][kGuard + e];
            if (a != b) {
                return ::testing::AssertionFailure()
                       << c.name() << " " << what << ": output '" << x.name << "' element " << e
                       << " differs bitwise: got " << word_f32(b) << fmt::format(" ({:#010x})", b)
                       << ", want " << word_f32(a) << fmt::format(" ({:#010x})", a) << " ("
                       << seed_note() << ")";
            }
        }
    }
    return ::testing::AssertionSuccess();
}

// A bf16 word's place on the number line, in ulps: equal magnitudes of either sign (+0, -0)
// map to the same place, and neighbours differ by 1 (NaN words are handled by the caller).
int64_t bf16_ordinal(uint16_t w) {
    const int64_t magnitude = w & 0x7FFF;
    return (w & 0x8000) != 0 ? -magnitude : magnitude;
}

bool bf16_is_nan(uint16_t w) {
    return (w & 0x7FFF) > 0x7F80;
}

// The bf16 outputs of a case that is not bit_exact (OpCase::bf16_abs_floor): each word within
// one ulp of the CPU's, or within the case's absolute floor.
::testing::AssertionResult compare_bf16(const OpCase& c, const CaseTensor& x,
                                        const std::vector<uint32_t>& want_words,
                                        const std::vector<uint32_t>& got_words,
                                        std::string_view what) {
    const auto* want = reinterpret_cast<const uint16_t*>(want_words.data() + kGuard);
    const auto* got = reinterpret_cast<const uint16_t*>(got_words.data() + kGuard);
    const int64_t n = 2 * x.count;
    double max_abs = 0.0;
    for (int64_t e = 0; e < n; e++) {
        // words the op leaves alone (padding) keep the sentinel: they are no output's scale
        if (!bf16_is_nan(want[e]) && want[e] != kU16Sentinel) {
            max_abs = std::max(
                max_abs,
                std::fabs(static_cast<double>(std::bit_cast<float>(uint32_t{want[e]} << 16))));
        }
    }
    const double floor = c.bf16_abs_floor() * max_abs;
    for (int64_t e = 0; e < n; e++) {
        const uint16_t a = want[e], b = got[e];
        if (a == b) {
            continue;
        }
        const double va = std::bit_cast<float>(uint32_t{a} << 16);
        const double vb = std::bit_cast<float>(uint32_t{b} << 16);
        const bool ok =
            !bf16_is_nan(a) && !bf16_is_nan(b) &&
            (std::abs(bf16_ordinal(a) - bf16_ordinal(b)) <= 1 || std::fabs(va - vb) <= floor);
        if (!ok) {
            return ::testing::AssertionFailure()
                   << c.name() << " " << what << ": bf16 output '" << x.name << "' word " << e
                   << " is " << vb << fmt::format(" ({:#06x})", b) << ", want " << va
                   << fmt::format(" ({:#06x})", a) << ": more than 1 bf16 ulp apart (floor "
                   << floor << ") (" << seed_note() << ")";
        }
    }
    return ::testing::AssertionSuccess();
}

// NMSE = sum (got - want)^2 / sum want^2 over every f32 output, per output tensor; bf16
// outputs by compare_bf16.
::testing::AssertionResult compare_runs(const OpCase& c, const CaseTensors& t_want,
                                        const RunWords& want, const CaseTensors& t_got,
                                        const RunWords& got, std::string_view what) {
    for (size_t i = 0; i < t_want.all().size(); i++) {
        const auto& x = t_want.all()[i];
        if (x.role != Role::kInput && x.u16) {
            const auto r = compare_bf16(c, x, want[i], got[i], what);
            if (!r) {
                return r;
            }
            continue;
        }
        if (x.role == Role::kInput || x.dtype != kernels::DType::kF32) {
            continue;
        }
        const auto a = produced(x, want[i]);
        const auto b = produced(t_got.all()[i], got[i]);
        double err = 0.0, norm = 0.0, worst = -1.0;
        size_t worst_at = 0;
        for (size_t e = 0; e < a.size(); e++) {
            const double d = (b[e] - a[e]) * (b[e] - a[e]);
            err += d;
            norm += a[e] * a[e];
            if (d > worst) {
                worst = d;
                worst_at = e;
            }
        }
        const double nmse = norm > 0.0 ? err / norm : err;
        if (!(nmse <= c.max_err())) {
            return ::testing::AssertionFailure()
                   << c.name() << " " << what << ": output '" << x.name << "' NMSE " << nmse
                   << " > " << c.max_err() << "; worst element " << worst_at << ": got "
                   << b[worst_at] << ", want " << a[worst_at] << " (" << seed_note() << ")";
        }
    }
    return ::testing::AssertionSuccess();
}

class BackendOps : public ::testing::TestWithParam<CasePtr> {};

TEST_P(BackendOps, CpuReference) {
    const OpCase& c = *GetParam();
    const auto t = make_inputs(c, 0);
    const auto r = run_case(c, t, Device::kCpu);
    ASSERT_TRUE(check_run(c, t, r, "cpu")) << seed_note();

    // += convention: the same inputs with other gradient pre-fills must add the same amounts.
    bool accumulates = false;
    auto t2 = t;
    std::mt19937_64 rng(test_seed() + 99);
    std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
    for (auto& x : t2.all()) {
        if (x.role == Role::kAccumulate) {
            accumulates = true;
            for (auto& v : x.f32) {
                v = dist(rng);
            }
        }
    }
    if (accumulates) {
        const auto r2 = run_case(c, t2, Device::kCpu);
        ASSERT_TRUE(check_run(c, t2, r2, "cpu")) << seed_note();
        EXPECT_TRUE(compare_runs(c, t, r, t2, r2, "accumulating into other gradient values"));
    }
}

TEST_P(BackendOps, CudaMatchesCpu) {
    const OpCase& c = *GetParam();
    const std::string op(kernels::op_name(c.op()));
    if (!kernels::op_supported(c.op(), Device::kCuda)) {
        // The registry and the dispatcher must agree: a CUDA Ctx is refused with a clear error
        // before any pointer is touched (so host buffers are safe to pass here).
        const auto t = make_inputs(c, 0);
        CaseBindings host(t);
        std::vector<std::vector<uint32_t>> storage;
        for (const auto& x : t.all()) {
            storage.push_back(data_words(x));
            host.bind(x.name, storage.back().data());
        }
        try {
            c.run(kernels::Ctx{Device::kCuda, nullptr}, host);
            ADD_FAILURE() << c.name() << ": op_supported(cuda) is false but the call ran";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("CUDA backend does not implement"),
                      std::string::npos)
                << e.what();
        }
        if (!kernels::cuda_available()) {
            GTEST_SKIP() << "no GPU present";
        }
        GTEST_SKIP() << "CUDA backend lacks " << op;
    }
    if (!kernels::cuda_available()) {
        GTEST_SKIP() << "no GPU present";
    }
    const auto t = make_inputs(c, 0);
    const auto want = run_case(c, t, Device::kCpu);
    ASSERT_TRUE(check_run(c, t, want, "cpu")) << seed_note();
    const auto got = run_case(c, t, Device::kCuda);
    ASSERT_TRUE(check_run(c, t, got, "cuda")) << seed_note();
    if (c.bit_exact()) {
        EXPECT_TRUE(compare_bits(c, t, want, got, "cuda vs cpu"));
    } else {
        EXPECT_TRUE(compare_runs(c, t, want, t, got, "cuda vs cpu"));
    }
}

std::string case_test_name(const ::testing::TestParamInfo<CasePtr>& param_info) {
    // "attention_forward(B=2,q_pos0=7)" -> "attention_forward__B2_q_pos0_7": '=' disappears
    // unless the key ends in a digit.
    std::string out(kernels::op_name(param_info.param->op()));
    out += "__";
    for (const char ch : param_info.param->vars()) {
        if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') {
            out += ch;
        } else if (ch == '=' && std::isdigit(static_cast<unsigned char>(out.back()))) {
            out += '_';
        } else if (ch == ',') {
            out += '_';
        } else if (ch == '.') {
            out += 'p';
        } else if (ch == '-') {
            out += 'm';
        }
    }
    return out;
}

INSTANTIATE_TEST_SUITE_P(Kernels, BackendOps, ::testing::ValuesIn(make_backend_op_cases()),
                         case_test_name);

TEST(BackendOpsCoverage, EveryRegisteredOpHasACase) {
    const auto cases = make_backend_op_cases();
    for (const kernels::Op op : kernels::all_ops()) {
        size_t n = 0;
        for (const auto& c : cases) {
            n += c->op() == op ? 1 : 0;
        }
        EXPECT_GT(n, 0u) << "op " << kernels::op_name(op)
                         << " has no OpCase: add one to tests/kernels/backend_op_cases.cpp";
    }
}

}  // namespace

// gtest prints a parameter on failure; print the case, not a pointer.
void PrintTo(const CasePtr& c, std::ostream* os) {
    *os << c->name();
}

}  // namespace qforge::test
