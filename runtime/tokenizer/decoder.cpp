// What is here: runtime/tokenizer/decoder.h.
#include "runtime/tokenizer/decoder.h"

#include "kernels/common.h"
#include "runtime/tokenizer/byte_level.h"
#include "runtime/tokenizer/normalizer.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

namespace {

// "<0xAB>" -> 0xAB, as HF's ByteFallback decoder reads it (u8::from_str_radix on 2 chars).
std::optional<unsigned char> byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') {
        return std::nullopt;
    }
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    };
    const int hi = hex(t[3]), lo = hex(t[4]);
    if (t[3] == '+' && lo >= 0) {  // from_str_radix accepts a leading '+'
        return static_cast<unsigned char>(lo);
    }
    if (hi < 0 || lo < 0) {
        return std::nullopt;
    }
    return static_cast<unsigned char>(hi * 16 + lo);
}

std::vector<std::string> byte_fallback(std::vector<std::string> tokens) {
    std::vector<std::string> out;
    std::string bytes;
    auto flush = [&] {
        if (bytes.empty()) {
            return;
        }
        if (utf8_find_invalid(bytes) == std::string::npos) {
            out.push_back(bytes);
        } else {
            for (std::size_t k = 0; k < bytes.size(); ++k) {
                out.emplace_back("\xEF\xBF\xBD");  // one U+FFFD per byte
            }
        }
        bytes.clear();
    };
    for (std::string& t : tokens) {
        if (const auto b = byte_token(t)) {
            bytes += static_cast<char>(*b);
        } else {
            flush();
            out.push_back(std::move(t));
        }
    }
    flush();
    return out;
}

std::string strip_token(const std::string& t, char32_t c, std::size_t start, std::size_t stop) {
    std::vector<std::size_t> offsets;  // byte offset of each character, plus the end
    for (std::size_t i = 0; i < t.size();) {
        offsets.push_back(i);
        utf8_next(t, i);
    }
    const std::size_t n = offsets.size();
    offsets.push_back(t.size());
    auto char_at = [&](std::size_t k) {
        std::size_t i = offsets[k];
        return utf8_next(t, i);
    };
    std::size_t start_cut = 0;
    for (std::size_t k = 0; k < start && k < n && char_at(k) == c; ++k) {
        start_cut = k + 1;
    }
    std::size_t stop_cut = n;
    for (std::size_t k = 0; k < stop && k < n && char_at(n - k - 1) == c; ++k) {
        stop_cut = n - k - 1;
    }
    if (stop_cut <= start_cut) {
        return {};
    }
    return t.substr(offsets[start_cut], offsets[stop_cut] - offsets[start_cut]);
}

std::string byte_level_decode(const std::vector<std::string>& tokens) {
    std::string bytes;
    for (const std::string& t : tokens) {
        std::string mapped;
        bool all = true;
        for (std::size_t i = 0; i < t.size() && all;) {
            const auto b = byte_level_byte(utf8_next(t, i));
            all = b.has_value();
            if (all) {
                mapped += static_cast<char>(*b);
            }
        }
        bytes += all ? mapped : t;  // a token with a foreign character passes as it is
    }
    return utf8_lossy(bytes);
}

}  // namespace

Decoder Decoder::from_json(const Json& j, const JsonWhere& where) {
    Decoder d;
    if (!j.is_null()) {
        d.present_ = true;
        d.add(j, where);
    }
    return d;
}

void Decoder::add(const Json& j, const JsonWhere& where) {
    using Kind = DecoderStep::Kind;
    const std::string type = where.get_type(j);
    if (type == "Sequence") {
        const Json& list = where.get_array(j, "decoders");
        for (std::size_t i = 0; i < list.size(); ++i) {
            add(list[i], where.at("decoders").at(i));
        }
    } else if (type == "Replace") {
        DecoderStep step{Kind::kReplace,
                         regex_from_json(where.get(j, "pattern"), where.at("pattern"))};
        step.content = where.get_string(j, "content");
        steps_.push_back(std::move(step));
    } else if (type == "ByteFallback") {
        steps_.push_back({Kind::kByteFallback, std::nullopt});
    } else if (type == "Fuse") {
        steps_.push_back({Kind::kFuse, std::nullopt});
    } else if (type == "Strip") {
        DecoderStep step{Kind::kStrip, std::nullopt};
        step.content = where.get_char(j, "content");
        auto count = [&](const char* key) {
            const Json& v = where.get(j, key);
            if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<long long>() >= 0)) {
                where.at(key).fail(fmt::format("should be a count >= 0, got {}", v.dump()));
            }
            return v.get<std::size_t>();
        };
        step.start = count("start");
        step.stop = count("stop");
        steps_.push_back(std::move(step));
    } else if (type == "ByteLevel") {
        steps_.push_back({Kind::kByteLevel, std::nullopt});
    } else if (type == "Metaspace") {
        DecoderStep step{Kind::kMetaspace, std::nullopt};
        step.replacement = where.get_char(j, "replacement");
        step.prepend_scheme = metaspace_prepend_scheme(j, where);
        steps_.push_back(std::move(step));
    } else {
        where.at("type").fail(fmt::format(
            "\"{}\" is not supported (expected Sequence, Replace, ByteFallback, Fuse, Strip, "
            "ByteLevel or Metaspace)",
            type));
    }
}

std::string Decoder::decode(std::vector<std::string> tokens) const {
    using Kind = DecoderStep::Kind;
    if (!present_) {
        std::string out;
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            out += (i ? " " : "") + tokens[i];
        }
        return out;
    }
    for (const DecoderStep& step : steps_) {
        switch (step.kind) {
            case Kind::kReplace:
                for (std::string& t : tokens) {
                    t = regex_replace_all(t, *step.pattern, step.content);
                }
                break;
            case Kind::kByteFallback:
                tokens = byte_fallback(std::move(tokens));
                break;
            case Kind::kFuse: {
                std::string all;
                for (const std::string& t : tokens) {
                    all += t;
                }
                tokens.assign(1, std::move(all));
                break;
            }
            case Kind::kStrip: {
                std::size_t i = 0;
                const char32_t c = utf8_next(step.content, i);
                for (std::string& t : tokens) {
                    t = strip_token(t, c, step.start, step.stop);
                }
                break;
            }
            case Kind::kByteLevel:
                tokens.assign(1, byte_level_decode(tokens));
                break;
            case Kind::kMetaspace:
                for (std::size_t k = 0; k < tokens.size(); ++k) {
                    const bool drop = k == 0 && step.prepend_scheme != PrependScheme::kNever;
                    std::string out;
                    const std::string& t = tokens[k];
                    for (std::size_t i = 0; i < t.size();) {
                        const std::size_t b = i;
                        utf8_next(t, i);
                        if (t.compare(b, i - b, step.replacement) == 0) {
                            if (!drop) {
                                out += ' ';
                            }
                        } else {
                            out.append(t, b, i - b);
                        }
                    }
                    tokens[k] = std::move(out);
                }
                break;
        }
    }
    std::string out;
    for (const std::string& t : tokens) {
        out += t;
    }
    return out;
}

}  // namespace qforge::tokenizer
