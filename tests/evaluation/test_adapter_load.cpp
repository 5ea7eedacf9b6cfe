// What is here: loading adapters for evaluation: run dirs and adapter dirs, and one clear
// error for an adapter trained on another base (name, layer count or shapes).
#include <fstream>
#include <functional>
#include <gtest/gtest.h>

#include "evaluation/run/adapter_load.h"
#include "kernels/common.h"
#include "runtime/io/hf_config.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

namespace fs = std::filesystem;

void expect_error(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
        FAIL() << "expected an error containing " << needle;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(EvalAdapters, LoadsRunDirsAndRefusesOtherBases) {
    const fs::path model = test::data_dir() / "models" / "stories260K";
    const io::LlamaConfig cfg = io::load_llama_config(model);
    test::TempDir tmp;
    LoraOptions lo;
    lo.r = 4;
    const LoraAdapter a = LoraAdapter::create(cfg, lo, 7);
    a.save_peft(tmp.path() / "run1" / "adapter", "../shared/data/models/stories260K");
    std::ofstream(tmp.path() / "run1" / "config.yaml") << "lora:\n  r: 4\n";

    const AdapterLocation run = locate_adapter(tmp.path() / "run1");
    EXPECT_EQ(run.adapter_dir, tmp.path() / "run1" / "adapter");
    EXPECT_EQ(run.run_dir, tmp.path() / "run1");
    EXPECT_EQ(run.name, "run1");
    const AdapterLocation direct = locate_adapter(tmp.path() / "run1" / "adapter");
    EXPECT_EQ(direct.run_dir, tmp.path() / "run1");
    const LoraAdapter loaded = load_adapter_for_model(run, model, cfg);
    EXPECT_EQ(loaded.params(), a.params());

    a.save_peft(tmp.path() / "other", "meta-llama/Llama-2-7b-hf");
    expect_error([&] { load_adapter_for_model(locate_adapter(tmp.path() / "other"), model, cfg); },
                 "base_model_name_or_path \"meta-llama/Llama-2-7b-hf\" (expected a path ending "
                 "in \"stories260K\")");

    io::LlamaConfig deeper = cfg;
    deeper.num_hidden_layers += 2;
    LoraAdapter::create(deeper, lo, 7).save_peft(tmp.path() / "deep", "stories260K");
    expect_error([&] { load_adapter_for_model(locate_adapter(tmp.path() / "deep"), model, cfg); },
                 "does not match the model");

    io::LlamaConfig wider = cfg;
    wider.intermediate_size += 8;
    LoraAdapter::create(wider, lo, 7).save_peft(tmp.path() / "wide", "stories260K");
    expect_error([&] { load_adapter_for_model(locate_adapter(tmp.path() / "wide"), model, cfg); },
                 "does not match the model");

    expect_error([&] { locate_adapter(tmp.path()); }, "expected a PEFT adapter directory");
}

}  // namespace
}  // namespace qforge::eval
