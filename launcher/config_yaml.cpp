// What is here: train_config_to_yaml: every key of the table, section by section, in a form
// parse_train_config reads back to the same config (floats in their shortest exact decimal form,
// strings double-quoted with each $ written as $$ so nothing expands twice).
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "kernels/common.h"
#include "launcher/config.h"
#include "launcher/config_env.h"
#include "launcher/config_keys.h"

namespace qforge::launcher {

namespace {

void emit_value(YAML::Emitter& out, ConfigField field) {
    struct Emit {
        YAML::Emitter& out;

        void operator()(const int64_t* v) const { out << *v; }

        void operator()(const uint64_t* v) const { out << *v; }

        // yaml-cpp prints floats with max_digits10 digits (2e-4f -> 0.000199999995); fmt prints
        // the shortest text that reads back to the same float.
        void operator()(const float* v) const { out << fmt::format("{}", *v); }

        void operator()(const double* v) const { out << fmt::format("{}", *v); }

        void operator()(const bool* v) const { out << (*v ? "true" : "false"); }

        void operator()(const std::string* v) const {
            out << YAML::DoubleQuoted << escape_config_env(*v);
        }

        void operator()(const std::vector<std::string>* v) const {
            out << YAML::Flow << YAML::BeginSeq;
            for (const auto& s : *v) {
                out << YAML::DoubleQuoted << escape_config_env(s);
            }
            out << YAML::EndSeq;
        }
    };

    std::visit(Emit{out}, field);
}

}  // namespace

std::string train_config_to_yaml(const train::TrainConfig& config) {
    YAML::Emitter out;
    out << YAML::Comment(
               "qforge training config, resolved: defaults filled in, ${VAR} expanded, --set "
               "applied")
        << YAML::Newline;
    out << YAML::BeginMap;
    for (const auto section : config_sections()) {
        out << YAML::Key << std::string(section) << YAML::Value << YAML::BeginMap;
        for (const auto& key : config_keys()) {
            if (key.section() == section) {
                out << YAML::Key << std::string(key.key()) << YAML::Value;
                emit_value(out, config_field(key, config));
            }
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    QF_CHECK(out.good(), "yaml-cpp could not emit the training config: {}", out.GetLastError());
    return std::string(out.c_str()) + "\n";
}

}  // namespace qforge::launcher
