// What is here: helpers for the serve tests: the shipped stories260K model, PEFT adapters
// written for a test (random non-zero LoRA B, so an adapter changes the output), an
// in-process server on a free loopback port, and a small Beast HTTP client.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "serve/server.h"

namespace qforge::test {

std::filesystem::path stories_dir();
bool have_stories();

// Writes a PEFT adapter for stories260K into dir: r = 4, all seven projections, A as PEFT
// initialises it, B ~ U(-scale, scale) from seed.
void write_adapter(const std::filesystem::path& dir, uint64_t seed, float scale = 0.5f);

// A started server on 127.0.0.1 and a free port; stopped by the destructor.
class ServerUnderTest {
public:
    explicit ServerUnderTest(serve::ServeOptions options);
    ~ServerUnderTest();

    uint16_t port() const { return server_->port(); }

    serve::Server& server() { return *server_; }

private:
    std::unique_ptr<serve::Server> server_;
};

struct HttpResult {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
};

// One keep-alive connection; each request() reuses it.
class HttpClient {
public:
    explicit HttpClient(uint16_t port);
    ~HttpClient();
    HttpResult request(const std::string& method, const std::string& target,
                       const std::string& body = {});

    HttpResult post(const std::string& target, const std::string& body) {
        return request("POST", target, body);
    }

    HttpResult get(const std::string& target) { return request("GET", target); }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Raw bytes over a fresh connection: sends `bytes`, reads at most `max_read` bytes (or until
// the server closes), then closes. For malformed requests and early disconnects.
std::string raw_exchange(uint16_t port, const std::string& bytes, std::size_t max_read);

// The "data: ..." payloads of a server-sent-event body, in order.
std::vector<std::string> sse_data(const std::string& body);

// A metric's value from a /metrics text ("name" or "name{labels}"); -1 when absent.
double metric_value(const std::string& metrics, const std::string& name);

// Resident set size of this process, in bytes (from /proc/self/statm).
std::size_t rss_bytes();

}  // namespace qforge::test
