// What is here: safetensors round trips (every dtype), the real stories260K and transformers
// checkpoints, and one test per malformed-file case, each asserting the error names the file
// and the offending tensor or field.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

#include "runtime/io/safetensors.h"
#include "runtime/tensor/half.h"
#include "support/test_support.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Random contents for any dtype (never all zeros): floats in [-2, 2), integers mixed-sign.
Tensor random_tensor(std::vector<int64_t> shape, DType dtype, uint64_t salt) {
    Tensor t = Tensor::empty(std::move(shape), dtype);
    const auto n = static_cast<std::size_t>(t.numel());
    const std::vector<float> v = test::random_floats(n, -2.0f, 2.0f, salt);
    for (std::size_t i = 0; i < n; ++i) {
        switch (dtype) {
            case DType::kF32:
                t.data<float>()[i] = v[i];
                break;
            case DType::kBF16:
                t.data<uint16_t>()[i] = f32_to_bf16(v[i]);
                break;
            case DType::kF16:
                t.data<uint16_t>()[i] = f32_to_f16(v[i]);
                break;
            case DType::kU8:
                t.data<uint8_t>()[i] = static_cast<uint8_t>((v[i] + 2.0f) * 63.0f);
                break;
            case DType::kI32:
                t.data<int32_t>()[i] = static_cast<int32_t>(v[i] * 1e8f);
                break;
        }
    }
    return t;
}

// Bytes of a tensor in row-major order (through contiguous(), so views work).
std::string bytes_of(const Tensor& t) {
    const Tensor c = t.contiguous();
    return std::string(static_cast<const char*>(c.raw_data()), c.nbytes());
}

// A file made by hand: 8-byte length, the header text, then `data_bytes` bytes of 0x5a.
void write_raw(const fs::path& path, const std::string& header, std::size_t data_bytes) {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(data_bytes, '\x5a');
}

// Opens `path` and returns the error message (fails the test when no error is thrown).
std::string open_error(const fs::path& path) {
    try {
        SafetensorsFile::open(path);
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "opening " << path << " did not throw";
    return "";
}

std::string raw_error(const test::TempDir& dir, const std::string& header, std::size_t data) {
    const fs::path p = dir.path() / "bad.safetensors";
    write_raw(p, header, data);
    return open_error(p);
}

class SafetensorsRoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(SafetensorsRoundTrip, WriteThenReadGivesTheSameBytes) {
    const DType dt = GetParam();
    test::TempDir dir;
    const fs::path path = dir.path() / "rt.safetensors";
    const Tensor a = random_tensor({7, 13}, dt, 1);  // odd sizes: offsets not multiples of 8
    const Tensor b = random_tensor({3, 5, 2}, dt, 2);
    const Tensor wide = random_tensor({4, 9}, dt, 3);
    const Tensor strided = wide.slice(1, 2, 7);  // non-contiguous: written contiguous
    const Tensor scalar = random_tensor({}, dt, 4);
    const Tensor none = Tensor::empty({0, 4}, dt);
    const std::vector<std::pair<std::string, Tensor>> tensors = {
        {"z.first", a}, {"a.second", b}, {"m.strided", strided}, {"s", scalar}, {"e", none}};
    safetensors_write(path, tensors, {{"format", "pt"}, {"qforge", "test"}});

    // The data section starts 8-byte aligned and the tensors follow in the given order.
    std::ifstream in(path, std::ios::binary);
    uint64_t header_len = 0;
    in.read(reinterpret_cast<char*>(&header_len), 8);
    EXPECT_EQ((8 + header_len) % 8, 0u);

    const SafetensorsFile f = SafetensorsFile::open(path);
    EXPECT_EQ(f.names(), (std::vector<std::string>{"a.second", "e", "m.strided", "s", "z.first"}));
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_EQ(f.metadata().at("qforge"), "test");
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        ASSERT_TRUE(f.contains(name));
        const TensorInfo& info = f.info(name);
        EXPECT_EQ(info.name, name);
        EXPECT_EQ(info.dtype, dt);
        EXPECT_EQ(info.shape, t.shape());
        EXPECT_EQ(info.begin, offset) << name;
        offset = info.end;
        const Tensor back = f.get(name);
        EXPECT_EQ(back.shape(), t.shape());
        EXPECT_EQ(back.dtype(), dt);
        EXPECT_TRUE(back.is_contiguous());
        EXPECT_EQ(bytes_of(back), bytes_of(t)) << name;
    }
    EXPECT_EQ(fs::file_size(path), 8 + header_len + offset);
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, SafetensorsRoundTrip,
                         ::testing::Values(DType::kF32, DType::kBF16, DType::kF16, DType::kU8,
                                           DType::kI32),
                         [](const auto& p) { return std::string(kernels::dtype_name(p.param)); });

TEST(Safetensors, GetIsZeroCopyAndOutlivesTheFile) {
    test::TempDir dir;
    const fs::path path = dir.path() / "w.safetensors";
    const Tensor w = random_tensor({16, 8}, DType::kF32, 0);
    safetensors_write(path, {{"w", w}});
    Tensor view;
    {
        const SafetensorsFile f = SafetensorsFile::open(path);
        view = f.get("w");
        EXPECT_EQ(f.get("w").raw_data(), view.raw_data());  // same mapping, no copy
    }
    fs::remove(path);  // the mapping keeps the data reachable
    EXPECT_EQ(bytes_of(view), bytes_of(w));
}

TEST(Safetensors, ReadsTheRealStories260K) {
    const fs::path path = test::data_dir() / "models/stories260K/model.safetensors";
    const SafetensorsFile f = SafetensorsFile::open(path);
    EXPECT_EQ(f.names().size(), 2u + 5u * 9u);
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_EQ(f.info("model.embed_tokens.weight").shape, (std::vector<int64_t>{512, 64}));
    EXPECT_EQ(f.info("model.layers.3.self_attn.k_proj.weight").shape,
              (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(f.info("model.layers.4.mlp.down_proj.weight").shape, (std::vector<int64_t>{64, 172}));
    // Compare the zero-copy view with the bytes read at the same place by plain file I/O.
    const TensorInfo& info = f.info("model.norm.weight");
    std::ifstream in(path, std::ios::binary);
    uint64_t header_len = 0;
    in.read(reinterpret_cast<char*>(&header_len), 8);
    in.seekg(static_cast<std::streamoff>(8 + header_len + info.begin));
    std::vector<float> expect(64);
    in.read(reinterpret_cast<char*>(expect.data()), 64 * 4);
    const Tensor norm = f.get("model.norm.weight");
    for (int i = 0; i < 64; ++i) {
        EXPECT_EQ(norm.data<float>()[i], expect[static_cast<std::size_t>(i)]);
    }
}

TEST(Safetensors, ReadsTransformersBf16Checkpoints) {
    // Written by transformers 5.17 save_pretrained (tests/golden/models).
    const fs::path dir = test::golden_dir() / "models/llama3-hd128-scaled";
    const CheckpointReader ckpt = CheckpointReader::open(dir);
    EXPECT_EQ(ckpt.names().size(), 3u + 2u * 9u);
    EXPECT_EQ(ckpt.info("lm_head.weight").dtype, DType::kBF16);
    EXPECT_EQ(ckpt.file_of("lm_head.weight").filename(), "model-00003-of-00003.safetensors");
    const Tensor emb = ckpt.get("model.embed_tokens.weight").to_f32();
    EXPECT_EQ(emb.shape(), (std::vector<int64_t>{512, 256}));
    double sum_sq = 0;
    for (int64_t i = 0; i < emb.numel(); ++i) {
        sum_sq += static_cast<double>(emb.data<float>()[i]) * emb.data<float>()[i];
    }
    // make_golden_models.py fills weights with 0.08 * randn: the RMS must be close to 0.08.
    EXPECT_NEAR(std::sqrt(sum_sq / static_cast<double>(emb.numel())), 0.08, 0.004);
}

TEST(Safetensors, ShardedCheckpointFromAnIndex) {
    test::TempDir dir;
    const Tensor a = random_tensor({5, 3}, DType::kF32, 1);
    const Tensor b = random_tensor({6}, DType::kBF16, 2);
    const Tensor c = random_tensor({2, 2}, DType::kI32, 3);
    safetensors_write(dir.path() / "model-00001-of-00002.safetensors", {{"a", a}, {"b", b}});
    safetensors_write(dir.path() / "model-00002-of-00002.safetensors", {{"c", c}});
    std::ofstream(dir.path() / "model.safetensors.index.json")
        << R"({"metadata": {"total_size": 100}, "weight_map": {
              "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
              "c": "model-00002-of-00002.safetensors"}})";
    const CheckpointReader ckpt = CheckpointReader::open(dir.path());
    EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(ckpt.contains("c"));
    EXPECT_FALSE(ckpt.contains("d"));
    EXPECT_EQ(bytes_of(ckpt.get("a")), bytes_of(a));
    EXPECT_EQ(bytes_of(ckpt.get("b")), bytes_of(b));
    EXPECT_EQ(bytes_of(ckpt.get("c")), bytes_of(c));
    EXPECT_EQ(ckpt.info("c").shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(ckpt.file_of("c"), dir.path() / "model-00002-of-00002.safetensors");
    try {
        ckpt.get("d");
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr(dir.path().string()), HasSubstr("'d'")));
    }
}

TEST(Safetensors, SingleFileDirectoryAndFilePath) {
    test::TempDir dir;
    const Tensor a = random_tensor({3, 3}, DType::kF16, 1);
    safetensors_write(dir.path() / "model.safetensors", {{"a", a}});
    EXPECT_EQ(bytes_of(CheckpointReader::open(dir.path()).get("a")), bytes_of(a));
    EXPECT_EQ(bytes_of(CheckpointReader::open(dir.path() / "model.safetensors").get("a")),
              bytes_of(a));
}

TEST(Safetensors, BadShardIndexes) {
    test::TempDir dir;
    safetensors_write(dir.path() / "s1.safetensors", {{"a", random_tensor({2}, DType::kF32, 1)}});
    const fs::path index = dir.path() / "model.safetensors.index.json";
    auto index_error = [&](const std::string& text) {
        std::ofstream(index) << text;
        try {
            CheckpointReader::open(dir.path());
        } catch (const Error& e) {
            return std::string(e.what());
        }
        ADD_FAILURE() << "accepted index " << text;
        return std::string();
    };
    EXPECT_THAT(index_error(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})"),
                AllOf(HasSubstr("'b'"), HasSubstr("s1.safetensors")));
    EXPECT_THAT(index_error(R"({"weight_map": {"a": "missing.safetensors"}})"),
                HasSubstr("missing.safetensors"));
    EXPECT_THAT(index_error(R"({"weight_map": {"a": "../s1.safetensors"}})"),
                HasSubstr("inside the model directory"));
    EXPECT_THAT(index_error(R"({"weight_map": {"a": 3}})"), HasSubstr("weight_map[\"a\"]"));
    EXPECT_THAT(index_error(R"({"metadata": {}})"), HasSubstr("weight_map"));
    EXPECT_THAT(index_error(R"({"weight_map": )"), HasSubstr("not valid JSON"));
    fs::remove(index);
    EXPECT_THROW(CheckpointReader::open(dir.path()), Error);  // neither file present
    EXPECT_THROW(CheckpointReader::open(dir.path() / "nope"), Error);
}

TEST(SafetensorsBadFile, ShorterThanEightBytes) {
    test::TempDir dir;
    for (int n : {0, 5}) {
        const fs::path p = dir.path() / "short.safetensors";
        std::ofstream(p, std::ios::binary) << std::string(static_cast<std::size_t>(n), 'x');
        EXPECT_THAT(open_error(p), AllOf(HasSubstr(p.string()), HasSubstr("shorter than")));
    }
}

TEST(SafetensorsBadFile, HeaderLengthLargerThanTheFile) {
    test::TempDir dir;
    const fs::path p = dir.path() / "big.safetensors";
    std::ofstream out(p, std::ios::binary);
    const uint64_t n = 1000;
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << "{}";
    out.close();
    EXPECT_THAT(open_error(p), AllOf(HasSubstr(p.string()), HasSubstr("header length 1000")));
}

TEST(SafetensorsBadFile, HeaderNotJsonOrNotAnObject) {
    test::TempDir dir;
    EXPECT_THAT(raw_error(dir, R"({"w": {"dtype": "F32",)", 0),
                AllOf(HasSubstr("bad.safetensors"), HasSubstr("not valid JSON")));
    EXPECT_THAT(raw_error(dir, "[1, 2]", 0), HasSubstr("must be a JSON object, got array"));
    EXPECT_THAT(raw_error(dir, "\"text\"", 0), HasSubstr("must be a JSON object"));
}

TEST(SafetensorsBadFile, EntryMissingAField) {
    test::TempDir dir;
    EXPECT_THAT(raw_error(dir, R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", 8),
                AllOf(HasSubstr("bad.safetensors"), HasSubstr("'w'"), HasSubstr("\"dtype\"")));
    EXPECT_THAT(raw_error(dir, R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", 8),
                AllOf(HasSubstr("'w'"), HasSubstr("missing \"shape\"")));
    EXPECT_THAT(raw_error(dir, R"({"w": {"dtype": "F32", "shape": [2]}})", 8),
                AllOf(HasSubstr("'w'"), HasSubstr("missing \"data_offsets\"")));
    EXPECT_THAT(raw_error(dir, R"({"w": [1]})", 0), AllOf(HasSubstr("'w'"), HasSubstr("object")));
}

TEST(SafetensorsBadFile, EntryFieldsOfTheWrongJsonType) {
    test::TempDir dir;
    const std::string cases[][2] = {
        {R"({"w": {"dtype": 1, "shape": [2], "data_offsets": [0, 8]}})",
         "\"dtype\" must be a string"},
        {R"({"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}})",
         "\"shape\" must be an array"},
        {R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
         "\"shape\" must hold non-negative integers"},
        {R"({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})",
         "\"shape\" must hold non-negative integers"},
        {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 9]}})",
         "\"data_offsets\" must be an array [begin, end]"},
        {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": "0-8"}})",
         "\"data_offsets\" must be an array"},
        {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}})",
         "\"data_offsets\" must hold non-negative integers"},
    };
    for (const auto& [header, expect] : cases) {
        EXPECT_THAT(raw_error(dir, header, 8), AllOf(HasSubstr("'w'"), HasSubstr(expect)))
            << header;
    }
}

TEST(SafetensorsBadFile, UnsupportedDType) {
    test::TempDir dir;
    for (const char* dt : {"F64", "I64", "BOOL", "F8_E4M3", "float32"}) {
        const std::string header = std::string(R"({"w": {"dtype": ")") + dt +
                                   R"(", "shape": [1], "data_offsets": [0, 8]}})";
        EXPECT_THAT(raw_error(dir, header, 8), AllOf(HasSubstr("bad.safetensors"),
                                                     HasSubstr(std::string("unsupported dtype \"") +
                                                               dt + "\" for tensor 'w'")));
    }
}

TEST(SafetensorsBadFile, TruncatedData) {
    test::TempDir dir;
    const fs::path p = dir.path() / "t.safetensors";
    safetensors_write(
        p, {{"a", random_tensor({8}, DType::kF32, 1)}, {"b", random_tensor({16}, DType::kF32, 2)}});
    fs::resize_file(p, fs::file_size(p) - 10);
    EXPECT_THAT(open_error(p),
                AllOf(HasSubstr(p.string()), HasSubstr("'b'"), HasSubstr("truncated")));
}

TEST(SafetensorsBadFile, OffsetsEndBeforeBegin) {
    test::TempDir dir;
    EXPECT_THAT(
        raw_error(dir, R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [8, 0]}})", 8),
        AllOf(HasSubstr("'w'"), HasSubstr("end before begin")));
}

TEST(SafetensorsBadFile, ByteSizeDisagreesWithShape) {
    test::TempDir dir;
    EXPECT_THAT(
        raw_error(dir, R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8),
        AllOf(HasSubstr("'w'"), HasSubstr("needs 12 bytes"), HasSubstr("hold 8")));
    EXPECT_THAT(
        raw_error(dir, R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}})", 8),
        AllOf(HasSubstr("'w'"), HasSubstr("needs 12 bytes")));
}

TEST(SafetensorsBadFile, OverlapsGapsAndTrailingBytes) {
    test::TempDir dir;
    EXPECT_THAT(raw_error(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                          12),
                AllOf(HasSubstr("'a'"), HasSubstr("'b'"), HasSubstr("overlap")));
    EXPECT_THAT(raw_error(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})",
                          20),
                AllOf(HasSubstr("'b'"), HasSubstr("holes")));
    EXPECT_THAT(
        raw_error(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12),
        AllOf(HasSubstr("'a'"), HasSubstr("holes")));
    EXPECT_THAT(
        raw_error(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 16),
        HasSubstr("8 bytes after the last tensor"));
}

TEST(SafetensorsBadFile, MetadataMustBeStrings) {
    test::TempDir dir;
    EXPECT_THAT(raw_error(dir, R"({"__metadata__": {"format": 1}})", 0),
                AllOf(HasSubstr("__metadata__"), HasSubstr("\"format\"")));
    EXPECT_THAT(raw_error(dir, R"({"__metadata__": "pt"})", 0), HasSubstr("__metadata__"));
}

TEST(SafetensorsBadFile, MissingFileOrDirectory) {
    test::TempDir dir;
    EXPECT_THAT(open_error(dir.path() / "absent.safetensors"), HasSubstr("absent.safetensors"));
    EXPECT_THAT(open_error(dir.path()), HasSubstr("not a regular file"));
}

TEST(SafetensorsBadFile, UnalignedDataIsCopiedNotMisread) {
    // Other writers may leave the data section unaligned (header length not a multiple of 8).
    test::TempDir dir;
    const fs::path p = dir.path() / "odd.safetensors";
    const std::vector<float> v = test::random_floats(3);
    {
        std::ofstream out(p, std::ios::binary);
        const std::string header = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
        const uint64_t n = header.size();
        ASSERT_NE((8 + n) % 4, 0u);
        out.write(reinterpret_cast<const char*>(&n), 8);
        out << header;
        out.write(reinterpret_cast<const char*>(v.data()), 12);
    }
    const Tensor w = SafetensorsFile::open(p).get("w");
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(w.raw_data()) % 4, 0u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(w.data<float>()[i], v[static_cast<std::size_t>(i)]);
    }
}

TEST(SafetensorsWrite, RejectsBadInputsAndKeepsTheOldFile) {
    test::TempDir dir;
    const fs::path p = dir.path() / "keep.safetensors";
    const Tensor a = random_tensor({4}, DType::kF32, 1);
    safetensors_write(p, {{"a", a}});
    const auto size = fs::file_size(p);
    EXPECT_THROW(safetensors_write(p, {{"a", a}, {"a", a}}), Error);
    EXPECT_THROW(safetensors_write(p, {{"__metadata__", a}}), Error);
    EXPECT_THROW(safetensors_write(p, {{"b", a}, {"u", Tensor()}}), Error);
    EXPECT_THROW(safetensors_write(dir.path() / "no/such/dir/x.safetensors", {{"a", a}}), Error);
    EXPECT_EQ(fs::file_size(p), size);
    EXPECT_EQ(bytes_of(SafetensorsFile::open(p).get("a")), bytes_of(a));
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos)
            << "temp file left behind: " << entry.path();
    }
}

TEST(Safetensors, InfoOfAMissingTensorNamesFileAndTensor) {
    test::TempDir dir;
    const fs::path p = dir.path() / "one.safetensors";
    safetensors_write(p, {{"a", random_tensor({2}, DType::kF32, 1)}});
    const SafetensorsFile f = SafetensorsFile::open(p);
    try {
        f.info("model.norm.weight");
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr(p.string()), HasSubstr("'model.norm.weight'")));
    }
}

}  // namespace
}  // namespace qforge::io
