// What is here: runtime/tokenizer/post_processor.h.
#include "runtime/tokenizer/post_processor.h"

#include "kernels/common.h"

namespace qforge::tokenizer {

namespace {

// A ["token", id] pair of RobertaProcessing / BertProcessing.
std::int32_t token_pair_id(const Json& j, const char* key, const JsonWhere& where) {
    const Json& v = where.get(j, key);
    if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer()) {
        where.at(key).fail(fmt::format("should be [\"token\", id], got {}", v.dump()));
    }
    return v[1].get<std::int32_t>();
}

}  // namespace

PostProcessor PostProcessor::from_json(const Json& j, const JsonWhere& where) {
    PostProcessor p;
    if (!j.is_null()) {
        p.add(j, where);
    }
    return p;
}

void PostProcessor::add(const Json& j, const JsonWhere& where) {
    const std::string type = where.get_type(j);
    if (type == "Sequence") {
        const Json& list = where.get_array(j, "processors");
        for (std::size_t i = 0; i < list.size(); ++i) {
            add(list[i], where.at("processors").at(i));
        }
    } else if (type == "ByteLevel") {
        // Only trims offsets; the ids stay as they are.
    } else if (type == "TemplateProcessing") {
        const Json& single = where.get_array(j, "single");
        const Json& specials = where.get_object(j, "special_tokens");
        std::vector<Part> parts;
        for (std::size_t i = 0; i < single.size(); ++i) {
            const JsonWhere at = where.at("single").at(i);
            const Json& item = single[i];
            if (item.is_object() && item.contains("Sequence")) {
                const std::string seq = at.at("Sequence").get_string(item["Sequence"], "id");
                if (seq != "A") {
                    at.at("Sequence")
                        .at("id")
                        .fail(fmt::format("is \"{}\": a single-sequence template can only hold $A",
                                          seq));
                }
                parts.push_back({true, {}});
            } else if (item.is_object() && item.contains("SpecialToken")) {
                const std::string name =
                    at.at("SpecialToken").get_string(item["SpecialToken"], "id");
                const JsonWhere sw = where.at("special_tokens");
                if (!specials.contains(name)) {
                    sw.fail(fmt::format("has no entry for \"{}\", which single uses", name));
                }
                const Json& ids = sw.at(name).get_array(specials[name], "ids");
                Part part{false, {}};
                for (std::size_t k = 0; k < ids.size(); ++k) {
                    if (!ids[k].is_number_integer() || ids[k].get<std::int64_t>() < 0) {
                        sw.at(name).at("ids").at(k).fail(
                            fmt::format("should be a token id, got {}", ids[k].dump()));
                    }
                    part.ids.push_back(ids[k].get<std::int32_t>());
                }
                parts.push_back(std::move(part));
            } else {
                at.fail(
                    fmt::format("should be {{\"SpecialToken\": ...}} or {{\"Sequence\": ...}}, "
                                "got {}",
                                item.dump()));
            }
        }
        templates_.push_back(std::move(parts));
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
        templates_.push_back({{false, {token_pair_id(j, "cls", where)}},
                              {true, {}},
                              {false, {token_pair_id(j, "sep", where)}}});
    } else {
        where.at("type").fail(
            fmt::format("\"{}\" is not supported (expected TemplateProcessing, RobertaProcessing, "
                        "BertProcessing, ByteLevel or Sequence)",
                        type));
    }
}

std::vector<std::int32_t> PostProcessor::apply(const std::vector<std::int32_t>& ids) const {
    std::vector<std::int32_t> cur = ids;
    for (const auto& parts : templates_) {
        std::vector<std::int32_t> next;
        for (const Part& part : parts) {
            const auto& src = part.is_sequence ? cur : part.ids;
            next.insert(next.end(), src.begin(), src.end());
        }
        cur = std::move(next);
    }
    return cur;
}

}  // namespace qforge::tokenizer
