// What is here: tests/kernels/op_case.h.
#include "kernels/op_case.h"

#include <fmt/format.h>
#include <limits>

namespace qforge::test {

CaseTensor& CaseTensors::add(std::string name, Role role, int64_t count, float lo, float hi) {
    CaseTensor t;
    t.name = std::move(name);
    t.role = role;
    t.dtype = kernels::DType::kF32;
    t.count = count;
    t.lo = lo;
    t.hi = hi;
    tensors_.push_back(std::move(t));
    return tensors_.back();
}

CaseTensor& CaseTensors::add_i32(std::string name, int64_t count) {
    CaseTensor t;
    t.name = std::move(name);
    t.role = Role::kInput;
    t.dtype = kernels::DType::kI32;
    t.count = count;
    tensors_.push_back(std::move(t));
    return tensors_.back();
}

CaseTensor& CaseTensors::add_bytes(std::string name, int64_t bytes) {
    CaseTensor& t = add_i32(std::move(name), (bytes + 3) / 4);
    t.i32.assign(static_cast<size_t>(t.count), 0x5A5A5A5A);  // the padding bytes past `bytes`
    return t;
}

CaseTensor& CaseTensors::add_u16(std::string name, Role role, int64_t count) {
    CaseTensor& t = add_i32(std::move(name), (count + 1) / 2);
    t.role = role;
    t.u16 = true;
    t.i32.assign(static_cast<size_t>(t.count), 0x5A5A5A5A);
    static_assert(kU16Sentinel == 0x5A5A);
    return t;
}

uint16_t* u16_data(CaseTensor& t) {
    return reinterpret_cast<uint16_t*>(byte_data(t));
}

uint8_t* byte_data(CaseTensor& t) {
    QF_CHECK(t.dtype == kernels::DType::kI32 && t.i32.size() == static_cast<size_t>(t.count),
             "tensor '{}' is not a byte tensor (add_bytes)", t.name);
    return reinterpret_cast<uint8_t*>(t.i32.data());
}

CaseTensor& CaseTensors::operator[](std::string_view name) {
    for (auto& t : tensors_) {
        if (t.name == name) {
            return t;
        }
    }
    QF_FAIL("OpCase has no tensor named '{}'", name);
}

const CaseTensor& CaseTensors::operator[](std::string_view name) const {
    return const_cast<CaseTensors&>(*this)[name];
}

void* CaseBindings::find(std::string_view name) const {
    for (const auto& [n, p] : ptrs_) {
        if (n == name) {
            return p;
        }
    }
    QF_FAIL("OpCase has no bound tensor named '{}'", name);
}

std::string OpCase::name() const {
    return fmt::format("{}({})", kernels::op_name(op()), vars());
}

void OpCase::init_inputs(CaseTensors& t, std::mt19937_64& rng) const {
    for (auto& x : t.all()) {
        if (x.dtype != kernels::DType::kF32) {
            continue;
        }
        x.f32.resize(static_cast<size_t>(x.count));
        if (x.role == Role::kWrite) {
            std::fill(x.f32.begin(), x.f32.end(), std::numeric_limits<float>::quiet_NaN());
            continue;
        }
        std::uniform_real_distribution<float> dist(x.lo, x.hi);
        for (auto& v : x.f32) {
            v = dist(rng);
        }
    }
}

}  // namespace qforge::test
