// What is here: the setup step of the `openai` npm client test (CTest serve_openai_node):
// it writes the PEFT adapters that test serves into $QFORGE_SERVE_NODE_DIR.
#include <cstdlib>
#include <gtest/gtest.h>

#include "serve/serve_test_util.h"

namespace qforge {
namespace {

TEST(ServeNodeFixture, WriteAdapters) {
    const char* dir = std::getenv("QFORGE_SERVE_NODE_DIR");
    if (dir == nullptr || !test::have_stories()) {
        GTEST_SKIP() << "only for the serve_openai_node fixture (QFORGE_SERVE_NODE_DIR) with the "
                        "shipped data";
    }
    test::write_adapter(std::filesystem::path(dir) / "alpha", 21);
    test::write_adapter(std::filesystem::path(dir) / "beta", 22);
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir) / "beta/adapter_config.json"));
}

}  // namespace
}  // namespace qforge
