// What is here: HttpServer, a small HTTP/1.1 server on Boost.Asio/Beast: one event-loop
// thread, keep-alive, a request body limit, idle timeouts, chunked streaming responses
// (server-sent events), and a cancel flag raised when a client goes away mid-response.
// Boost stays out of this header; handlers see plain structs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace qforge::serve {

struct HttpRequest {
    std::string method;  // "GET", "POST", ...
    std::string path;    // the target without its query string
    std::string body;
    std::string content_type;
};

// How a handler answers one request: send() once, or begin_stream(), write() any number of
// times, end_stream(). Every call may come from any thread; the work runs on the event loop.
class Responder {
public:
    virtual ~Responder() = default;
    virtual void send(int status, std::string content_type, std::string body) = 0;
    virtual void begin_stream(int status, std::string content_type) = 0;
    virtual void write(std::string data) = 0;
    virtual void end_stream() = 0;
    // Raised when the client closes the connection or a write fails before the response ends.
    virtual std::shared_ptr<std::atomic<bool>> cancelled() const = 0;
    // Runs f on the event-loop thread.
    virtual void post(std::function<void()> f) = 0;
};

using HttpHandler = std::function<void(HttpRequest, std::shared_ptr<Responder>)>;

struct HttpOptions {
    std::string host = "127.0.0.1";
    uint16_t port = 8000;  // 0: any free port (see HttpServer::port)
    std::size_t max_body_bytes = 1 << 20;
    int idle_timeout_seconds = 60;   // a keep-alive connection with no request is closed
    int write_timeout_seconds = 60;  // a client that stops reading is dropped
    // Called for a request the server refuses itself (too large, malformed): status, message.
    std::function<std::string(int, const std::string&)> error_body;
};

class HttpServer {
public:
    // Binds and listens; a busy port or a bad address is a qforge::Error.
    HttpServer(HttpOptions options, HttpHandler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    uint16_t port() const;

    // Runs the event loop on its own thread.
    void start();
    // Stops when SIGINT or SIGTERM arrives (call before start()).
    void stop_on_signals();
    // Blocks until the event loop ends (after stop() or a signal).
    void wait();
    void stop();

    int64_t open_connections() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace qforge::serve
