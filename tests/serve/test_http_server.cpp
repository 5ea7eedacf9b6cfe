// What is here: HttpServer on its own (no model): a streaming client that half-closes its
// connection while chunks are still being written must be dropped cleanly (the cancel flag
// is raised, the connection is closed and freed), many times over, so that a disconnect
// noticed between a write's completion and its handler is exercised.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve/http_server.h"

namespace qforge {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

TEST(HttpServer, ClientLeavingMidStreamIsDroppedCleanly) {
    constexpr int kRounds = 40;
    std::mutex mu;
    std::vector<std::thread> producers;
    std::atomic<int> cancelled_seen{0};
    serve::HttpOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    serve::HttpServer server(o, [&](serve::HttpRequest, std::shared_ptr<serve::Responder> res) {
        res->begin_stream(200, "text/event-stream");
        std::lock_guard lock(mu);
        // Writes until the client is gone (at most 10 s), pausing a little now and then so
        // that writes are in flight, one after another, when the client leaves.
        producers.emplace_back([res, &cancelled_seen] {
            const auto cancelled = res->cancelled();
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10); ++i) {
                if (cancelled->load()) {
                    ++cancelled_seen;
                    break;
                }
                res->write("data: chunk " + std::to_string(i) + " of a stream that goes on\n\n");
                if (i % 64 == 63) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
            }
            res->end_stream();
        });
    });
    server.start();

    net::io_context ioc;
    const std::string request = "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    for (int round = 0; round < kRounds; ++round) {
        tcp::socket s(ioc);
        s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
        net::write(s, net::buffer(request));
        char buf[4096];
        boost::system::error_code ec;
        std::size_t got = 0;
        while (got < 512 && !ec) {
            got += s.read_some(net::buffer(buf), ec);
        }
        ASSERT_FALSE(ec) << "round " << round << ": " << ec.message();
        // A FIN while the server keeps writing: its writes still succeed (the socket stays
        // open here), and it sees the client leave through its readable-with-no-bytes watch.
        s.shutdown(tcp::socket::shutdown_send, ec);
        while (!ec) {  // the server closes its side: end of stream (or a reset)
            s.read_some(net::buffer(buf), ec);
        }
        EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset)
            << "round " << round << ": " << ec.message();
        s.close(ec);
    }
    {
        std::lock_guard lock(mu);
        for (auto& t : producers) {
            t.join();
        }
        EXPECT_EQ(producers.size(), static_cast<std::size_t>(kRounds));
    }
    EXPECT_EQ(cancelled_seen.load(), kRounds);
    const auto t0 = std::chrono::steady_clock::now();
    while (server.open_connections() != 0 &&
           std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(server.open_connections(), 0);
    server.stop();
    server.wait();
}

}  // namespace
}  // namespace qforge
