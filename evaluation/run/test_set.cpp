// What is here: load_test_set (see test_set.h).
#include "evaluation/run/test_set.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/common.h"

namespace qforge::eval {

namespace {

std::string string_field(const nlohmann::json& j, const std::string& name,
                         const std::string& where) {
    QF_CHECK(j.contains(name), "{}: field \"{}\" is missing (expected a string)", where, name);
    QF_CHECK(j[name].is_string(), "{}: field \"{}\" is {} (expected a string)", where, name,
             j[name].type_name());
    return j[name].get<std::string>();
}

// "{name}" -> the line's string field; "{{" and "}}" are literal braces.
std::string fill_template(const std::string& tpl, const nlohmann::json& j,
                          const std::string& where) {
    std::string out;
    for (std::size_t i = 0; i < tpl.size(); i++) {
        if (tpl.compare(i, 2, "{{") == 0 || tpl.compare(i, 2, "}}") == 0) {
            out += tpl[i++];
            continue;
        }
        if (tpl[i] != '{') {
            out += tpl[i];
            continue;
        }
        const std::size_t end = tpl.find('}', i);
        QF_CHECK(end != std::string::npos, "prompt_template \"{}\": unterminated '{{' at offset {}",
                 tpl, i);
        out += string_field(j, tpl.substr(i + 1, end - i - 1), where);
        i = end;
    }
    return out;
}

}  // namespace

std::vector<EvalExample> load_test_set(const TestSetSpec& spec) {
    std::ifstream in(spec.path, std::ios::binary);
    QF_CHECK(in.good(), "{}: cannot open the test set", spec.path.string());
    std::vector<EvalExample> out;
    std::string text;
    std::size_t lineno = 0;
    while (std::getline(in, text)) {
        lineno++;
        if (text.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        if (spec.limit > 0 && static_cast<int64_t>(out.size()) >= spec.limit) {
            break;
        }
        const std::string where = fmt::format("{}:{}", spec.path.string(), lineno);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            QF_FAIL("{}: not a JSON object ({})", where, e.what());
        }
        QF_CHECK(j.is_object(), "{}: expected a JSON object, got {}", where, j.type_name());
        EvalExample ex;
        ex.line = lineno;
        if (!spec.prompt_template.empty()) {
            ex.prompt = fill_template(spec.prompt_template, j, where);
        } else {
            ex.prompt = string_field(j, spec.prompt_field, where);
            if (!spec.input_field.empty()) {
                const std::string input = string_field(j, spec.input_field, where);
                if (!input.empty()) {
                    ex.prompt += "\n\n" + input;
                }
            }
        }
        const std::string& rf = spec.reference_field;
        QF_CHECK(j.contains(rf),
                 "{}: field \"{}\" is missing (expected a string or a list of strings)", where, rf);
        if (j[rf].is_string()) {
            ex.references.push_back(j[rf].get<std::string>());
        } else {
            QF_CHECK(j[rf].is_array() && !j[rf].empty(),
                     "{}: field \"{}\" is {} (expected a string or a non-empty list of strings)",
                     where, rf, j[rf].is_array() ? "an empty list" : j[rf].type_name());
            for (std::size_t k = 0; k < j[rf].size(); k++) {
                QF_CHECK(j[rf][k].is_string(), "{}: field \"{}\"[{}] is {} (expected a string)",
                         where, rf, k, j[rf][k].type_name());
                ex.references.push_back(j[rf][k].get<std::string>());
            }
        }
        if (!spec.id_field.empty()) {
            QF_CHECK(j.contains(spec.id_field), "{}: field \"{}\" is missing (expected an id)",
                     where, spec.id_field);
            ex.id = j[spec.id_field].is_string() ? j[spec.id_field].get<std::string>()
                                                 : j[spec.id_field].dump();
        } else {
            ex.id = std::to_string(lineno);
        }
        out.push_back(std::move(ex));
    }
    QF_CHECK(!out.empty(), "{}: the test set has no examples", spec.path.string());
    return out;
}

}  // namespace qforge::eval
