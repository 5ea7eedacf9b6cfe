// What is here: the serve test helpers (see serve_test_util.h).
#include "serve/serve_test_util.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

#include "runtime/io/hf_config.h"
#include "runtime/model/lora.h"
#include "support/test_support.h"

namespace qforge::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::filesystem::path stories_dir() {
    return data_dir() / "models" / "stories260K";
}

bool have_stories() {
    return std::filesystem::exists(stories_dir() / "config.json");
}

void write_adapter(const std::filesystem::path& dir, uint64_t seed, float scale) {
    const auto config = io::load_llama_config(stories_dir());
    LoraOptions o;
    o.r = 4;
    o.alpha = 8.0f;
    LoraAdapter a = LoraAdapter::create(config, o, seed);
    std::mt19937_64 rng(seed * 7919 + 1);
    std::uniform_real_distribution<float> u(-scale, scale);
    for (int64_t l = 0; l < a.num_layers(); ++l) {
        for (int t = 0; t < kNumLoraTargets; ++t) {
            const auto& s = a.slot(l, static_cast<LoraTarget>(t));
            for (int64_t i = 0; i < s.out * o.r; ++i) {
                a.params()[static_cast<std::size_t>(s.b_offset + i)] = u(rng);
            }
        }
    }
    a.save_peft(dir, "stories260K");
}

ServerUnderTest::ServerUnderTest(serve::ServeOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<serve::Server>(std::move(options));
    server_->start();
}

ServerUnderTest::~ServerUnderTest() {
    server_->stop();
}

struct HttpClient::Impl {
    net::io_context ioc;
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;
};

HttpClient::HttpClient(uint16_t port) : impl_(std::make_unique<Impl>()) {
    impl_->stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
}

HttpClient::~HttpClient() {
    beast::error_code ec;
    impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    impl_->stream.expires_after(std::chrono::seconds(60));
    http::write(impl_->stream, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read(impl_->stream, impl_->buffer, parser);
    const auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& f : res) {
        std::string name(f.name_string().data(), f.name_string().size());
        for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        out.headers[name] = std::string(f.value().data(), f.value().size());
    }
    return out;
}

std::string raw_exchange(uint16_t port, const std::string& bytes, std::size_t max_read) {
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    net::write(s, net::buffer(bytes));
    std::string out;
    char buf[4096];
    beast::error_code ec;
    while (out.size() < max_read) {
        const std::size_t n = s.read_some(net::buffer(buf), ec);
        if (ec) {
            break;
        }
        out.append(buf, n);
    }
    s.close(ec);
    return out;
}

std::vector<std::string> sse_data(const std::string& body) {
    std::vector<std::string> out;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("data: ", 0) == 0) {
            out.push_back(line.substr(6));
        }
    }
    return out;
}

double metric_value(const std::string& metrics, const std::string& name) {
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + " ", 0) == 0) {
            return std::stod(line.substr(name.size() + 1));
        }
    }
    return -1.0;
}

std::size_t rss_bytes() {
    std::ifstream f("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace qforge::test
