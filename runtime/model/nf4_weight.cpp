// What is here: Nf4Weight (see nf4_weight.h): quantizing at load, and the bitsandbytes checkpoint
// form (bitsandbytes.functional.QuantState.as_dict(packed=True) / from_dict).
#include "runtime/model/nf4_weight.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

namespace qforge {

namespace {

using json = nlohmann::json;

constexpr std::string_view kQuantStateSuffix = ".quant_state.bitsandbytes__nf4";

// torch dtype names as bitsandbytes writes them (str(torch.bfloat16).strip("torch.")).
std::string_view torch_dtype_name(DType dtype) {
    switch (dtype) {
        case DType::kF32:
            return "float32";
        case DType::kBF16:
            return "bfloat16";
        case DType::kF16:
            return "float16";
        default:
            break;
    }
    QF_FAIL("Nf4Weight: no torch dtype name for {}", kernels::dtype_name(dtype));
}

// A float as Python's repr() / json.dumps writes it: the shortest digits that round-trip, with
// ".0" on integral values ("1.5", "2.0", "1e-05").
std::string python_float_repr(double v) {
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".en") == std::string::npos) {
        s += ".0";
    }
    return s;
}

Tensor f32_tensor(const float* values, int64_t n) {
    Tensor t = Tensor::empty({n}, DType::kF32);
    std::memcpy(t.raw_data(), values, static_cast<std::size_t>(n) * sizeof(float));
    return t;
}

// One tensor of a bnb checkpoint: present, of the expected dtype and element count, contiguous.
Tensor get_checked(const io::CheckpointReader& ckpt, const std::string& name, DType dtype,
                   int64_t numel, std::string_view what) {
    QF_CHECK(ckpt.contains(name),
             "{}: missing tensor '{}' ({}); a bitsandbytes NF4 weight with double quantization "
             "(bnb_4bit_use_double_quant=True) stores it",
             ckpt.dir().string(), name, what);
    const Tensor t = ckpt.get(name);
    QF_CHECK(t.dtype() == dtype && t.numel() == numel,
             "{}: tensor '{}' ({}): expected {} with {} elements, got {} {}",
             ckpt.file_of(name).string(), name, what, kernels::dtype_name(dtype), numel,
             kernels::dtype_name(t.dtype()), t.shape_str());
    return t.contiguous();
}

// The quant state JSON of a bnb checkpoint, with every field this format needs checked.
struct QuantState {
    int64_t rows = 0, cols = 0;
    DType dtype = DType::kF32;
    float offset = 0.0f;
};

QuantState parse_quant_state(const io::CheckpointReader& ckpt, const std::string& name) {
    const Tensor bytes = ckpt.get(name).contiguous();
    const std::string where = fmt::format("{}: tensor '{}'", ckpt.file_of(name).string(), name);
    QF_CHECK(bytes.dtype() == DType::kU8 && bytes.ndim() == 1,
             "{}: expected a 1-D U8 tensor of JSON bytes, got {} {}", where,
             kernels::dtype_name(bytes.dtype()), bytes.shape_str());
    const std::string text(reinterpret_cast<const char*>(bytes.data<uint8_t>()),
                           static_cast<std::size_t>(bytes.numel()));
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        QF_FAIL("{}: not valid JSON ({})", where, e.what());
    }
    QF_CHECK(j.is_object(), "{}: expected a JSON object, got {}", where, text);
    auto field = [&](const char* key) -> const json& {
        QF_CHECK(j.contains(key), "{}: quant state has no \"{}\" (got {})", where, key, text);
        return j.at(key);
    };
    auto expect_int = [&](const char* key, int64_t expected) {
        const json& v = field(key);
        QF_CHECK(v.is_number_integer() && v.get<int64_t>() == expected,
                 "{}: expected \"{}\": {}, got {} (qforge reads blocksize 64 with nested "
                 "blocksize 256 only)",
                 where, key, expected, v.dump());
    };
    auto dtype_of = [&](const char* key) {
        const json& v = field(key);
        QF_CHECK(v.is_string(), "{}: \"{}\" must be a string, got {}", where, key, v.dump());
        std::string s = v.get<std::string>();
        if (s.rfind("torch.", 0) == 0) {  // some writers keep the "torch." prefix
            s.erase(0, 6);
        }
        for (const DType d : {DType::kF32, DType::kBF16, DType::kF16}) {
            if (s == torch_dtype_name(d)) {
                return d;
            }
        }
        QF_FAIL("{}: \"{}\" must be float32, bfloat16 or float16, got {}", where, key, v.dump());
    };

    const json& quant_type = field("quant_type");
    QF_CHECK(quant_type == "nf4", "{}: expected \"quant_type\": \"nf4\", got {}", where,
             quant_type.dump());
    expect_int("blocksize", kernels::kNf4BlockSize);
    QF_CHECK(j.contains("nested_offset"),
             "{}: the weight is not double-quantized (no \"nested_offset\"); qforge reads "
             "bnb_4bit_use_double_quant=True checkpoints only",
             where);
    expect_int("nested_blocksize", kernels::kNf4NestedBlockSize);
    QF_CHECK(dtype_of("nested_dtype") == DType::kF32, "{}: expected \"nested_dtype\": \"float32\"",
             where);

    QuantState qs;
    qs.dtype = dtype_of("dtype");
    const json& shape = field("shape");
    QF_CHECK(shape.is_array() && shape.size() == 2 && shape[0].is_number_integer() &&
                 shape[1].is_number_integer() && shape[0].get<int64_t>() > 0 &&
                 shape[1].get<int64_t>() > 0,
             "{}: expected \"shape\": [out_features, in_features] (two positive integers), got {}",
             where, shape.dump());
    qs.rows = shape[0].get<int64_t>();
    qs.cols = shape[1].get<int64_t>();
    const json& offset = field("nested_offset");
    QF_CHECK(offset.is_number() && std::isfinite(offset.get<double>()),
             "{}: \"nested_offset\" must be a finite number, got {}", where, offset.dump());
    qs.offset = static_cast<float>(offset.get<double>());  // torch.tensor(float(...)): fp32
    return qs;
}

}  // namespace

Nf4Weight Nf4Weight::quantize(const Tensor& w) {
    QF_CHECK(w.defined() && w.ndim() == 2,
             "Nf4Weight::quantize: expected a 2-D (out_features, in_features) weight, got {}",
             w.defined() ? w.shape_str() : std::string("an undefined tensor"));
    QF_CHECK(w.dtype() == DType::kF32 || w.dtype() == DType::kBF16 || w.dtype() == DType::kF16,
             "Nf4Weight::quantize: expected an f32, bf16 or f16 weight, got {} {}",
             kernels::dtype_name(w.dtype()), w.shape_str());
    QF_CHECK(w.device() == Device::kCpu, "Nf4Weight::quantize: expected a CPU tensor, got {}",
             kernels::device_name(w.device()));
    QF_CHECK(w.numel() > 0, "Nf4Weight::quantize: empty weight {}", w.shape_str());

    const Tensor f32 = w.to_f32();
    const int64_t n = f32.numel();
    const kernels::Nf4Sizes sizes = kernels::nf4_storage_sizes(n);
    Nf4Weight q;
    q.rows_ = w.dim(0);
    q.cols_ = w.dim(1);
    q.source_dtype_ = w.dtype();
    q.packed_ = Tensor::empty({sizes.packed_bytes, 1}, DType::kU8);
    q.absmax_q_ = Tensor::empty({sizes.blocks}, DType::kU8);
    q.nested_absmax_ = Tensor::empty({sizes.nested_blocks}, DType::kF32);
    q.code_ = f32_tensor(kernels::nf4_code_table(), 16);
    q.nested_code_ = f32_tensor(kernels::dynamic_map_signed(), 256);
    kernels::nf4_quantize(f32.data<float>(), n, q.packed_.data<uint8_t>(),
                          q.absmax_q_.data<uint8_t>(), q.nested_absmax_.data<float>(), &q.offset_);
    return q;
}

Nf4Weight Nf4Weight::from_bnb(const io::CheckpointReader& ckpt, const std::string& weight_name) {
    const std::string state_name = weight_name + std::string(kQuantStateSuffix);
    if (!ckpt.contains(state_name)) {
        const bool fp4 = ckpt.contains(weight_name + ".quant_state.bitsandbytes__fp4");
        QF_FAIL("{}: '{}' has no quant state '{}'{}", ckpt.dir().string(), weight_name, state_name,
                fp4 ? " (it is FP4; qforge reads NF4 only)"
                    : " (expected a bitsandbytes NF4 checkpoint)");
    }
    const QuantState qs = parse_quant_state(ckpt, state_name);
    const int64_t n = qs.rows * qs.cols;
    const kernels::Nf4Sizes sizes = kernels::nf4_storage_sizes(n);

    Nf4Weight q;
    q.rows_ = qs.rows;
    q.cols_ = qs.cols;
    q.source_dtype_ = qs.dtype;
    q.offset_ = qs.offset;
    q.packed_ = get_checked(ckpt, weight_name, DType::kU8, sizes.packed_bytes,
                            "packed 4-bit codes, quant_storage uint8");
    q.absmax_q_ =
        get_checked(ckpt, weight_name + ".absmax", DType::kU8, sizes.blocks, "8-bit absmax codes");
    q.nested_absmax_ = get_checked(ckpt, weight_name + ".nested_absmax", DType::kF32,
                                   sizes.nested_blocks, "absmax scale per 256 blocks");
    q.code_ = get_checked(ckpt, weight_name + ".quant_map", DType::kF32, 16, "NF4 levels");
    q.nested_code_ = get_checked(ckpt, weight_name + ".nested_quant_map", DType::kF32, 256,
                                 "8-bit absmax code table");

    // bitsandbytes' dequantization kernel uses its built-in NF4 levels and ignores quant_map, so
    // a checkpoint whose quant_map differs would dequantize differently there: refuse it.
    const float* levels = kernels::nf4_code_table();
    for (int k = 0; k < 16; k++) {
        const float got = q.code_.data<float>()[k];
        QF_CHECK(got == levels[k], "{}: tensor '{}.quant_map'[{}] = {}, expected the NF4 level {}",
                 ckpt.file_of(weight_name + ".quant_map").string(), weight_name, k, got, levels[k]);
    }
    for (int k = 0; k < 256; k++) {
        const float got = q.nested_code_.data<float>()[k];
        QF_CHECK(std::isfinite(got), "{}: tensor '{}.nested_quant_map'[{}] = {} is not finite",
                 ckpt.file_of(weight_name + ".nested_quant_map").string(), weight_name, k, got);
    }
    const float* nested = q.nested_absmax_.data<float>();
    for (int64_t i = 0; i < sizes.nested_blocks; i++) {
        QF_CHECK(std::isfinite(nested[i]), "{}: tensor '{}.nested_absmax'[{}] = {} is not finite",
                 ckpt.file_of(weight_name + ".nested_absmax").string(), weight_name, i, nested[i]);
    }
    return q;
}

std::vector<std::pair<std::string, Tensor>> Nf4Weight::to_bnb(
    const std::string& weight_name) const {
    // json.dumps of QuantState.as_dict's non-tensor items, in their order, with Python's
    // separators, so the bytes match what bitsandbytes writes.
    const std::string state = fmt::format(
        "{{\"quant_type\": \"nf4\", \"blocksize\": {}, \"dtype\": \"{}\", \"shape\": [{}, {}], "
        "\"nested_blocksize\": {}, \"nested_dtype\": \"float32\", \"nested_offset\": {}}}",
        kernels::kNf4BlockSize, torch_dtype_name(source_dtype_), rows_, cols_,
        kernels::kNf4NestedBlockSize, python_float_repr(static_cast<double>(offset_)));
    Tensor state_bytes = Tensor::empty({static_cast<int64_t>(state.size())}, DType::kU8);
    std::memcpy(state_bytes.raw_data(), state.data(), state.size());
    return {
        {weight_name, packed_},
        {weight_name + ".absmax", absmax_q_},
        {weight_name + ".quant_map", code_},
        {weight_name + ".nested_absmax", nested_absmax_},
        {weight_name + ".nested_quant_map", nested_code_},
        {weight_name + std::string(kQuantStateSuffix), state_bytes},
    };
}

kernels::Nf4View Nf4Weight::view() const {
    return kernels::Nf4View{
        .packed = packed_.data<uint8_t>(),
        .absmax_q = absmax_q_.data<uint8_t>(),
        .nested_absmax = nested_absmax_.data<float>(),
        .nested_code = nested_code_.data<float>(),
        .code = code_.data<float>(),
        .offset = offset_,
        .numel = rows_ * cols_,
    };
}

void Nf4Weight::dequantize(float* out) const {
    kernels::nf4_dequantize(kernels::Ctx{}, out, view());
}

std::size_t Nf4Weight::storage_bytes() const {
    return packed_.nbytes() + absmax_q_.nbytes() + nested_absmax_.nbytes() + code_.nbytes() +
           nested_code_.nbytes() + sizeof(offset_);
}

}  // namespace qforge
