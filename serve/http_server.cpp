// What is here: HttpServer (see http_server.h). Beast parses requests (header first, so an
// "Expect: 100-continue" client is answered and an oversized body is refused before it is
// read); responses are written as raw HTTP/1.1 bytes through one write queue per connection,
// so a full response and a stream of chunks take the same path. All connection state is
// touched on the event-loop thread only; Responder calls from other threads are posted there.
#include "serve/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <deque>
#include <fmt/format.h>
#include <iterator>
#include <optional>
#include <thread>

#include "kernels/common.h"

namespace qforge::serve {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

struct Shared {
    HttpOptions options;
    HttpHandler handler;
    std::atomic<int64_t> connections{0};
};

std::string reason(int status) {
    const auto r = http::obsolete_reason(static_cast<http::status>(status));
    return r.empty() ? std::string("Unknown") : std::string(r);
}

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, std::shared_ptr<Shared> shared)
        : stream_(std::move(socket)), shared_(std::move(shared)) {
        ++shared_->connections;
    }

    ~Session() { --shared_->connections; }

    void start() { read_header(); }

    // The Responder calls, run on the event loop. `id` names the request they answer; calls
    // for an older request or a closed connection are dropped.
    void respond(uint64_t id, int status, const std::string& type, const std::string& body) {
        if (!current(id)) {
            return;
        }
        queue(head(status, type, fmt::format("Content-Length: {}\r\n", body.size())) + body);
        finish_response();
    }

    void begin_stream(uint64_t id, int status, const std::string& type) {
        if (!current(id) || streaming_) {
            return;
        }
        streaming_ = true;
        chunked_ = version_ >= 11;
        if (!chunked_) {
            keep_alive_ = false;  // HTTP/1.0: the end of the stream is the end of the connection
        }
        queue(head(status, type,
                   chunked_ ? "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n"
                            : "Cache-Control: no-cache\r\n"));
    }

    void write(uint64_t id, const std::string& data) {
        if (!current(id) || !streaming_ || data.empty()) {
            return;
        }
        queue(chunked_ ? fmt::format("{:x}\r\n", data.size()) + data + "\r\n" : data);
    }

    void end_stream(uint64_t id) {
        if (!current(id) || !streaming_) {
            return;
        }
        if (chunked_) {
            queue("0\r\n\r\n");
        }
        finish_response();
    }

    net::any_io_executor executor() { return stream_.get_executor(); }

private:
    bool current(uint64_t id) const { return !closed_ && in_response_ && id == id_; }

    std::string head(int status, const std::string& type, const std::string& extra) const {
        return fmt::format(
            "HTTP/1.{} {} {}\r\nServer: qforge\r\nContent-Type: {}\r\n{}Connection: {}\r\n\r\n",
            version_ >= 11 ? 1 : 0, status, reason(status), type, extra,
            keep_alive_ ? "keep-alive" : "close");
    }

    void read_header() {
        parser_.emplace();
        parser_->body_limit(shared_->options.max_body_bytes);
        stream_.expires_after(std::chrono::seconds(shared_->options.idle_timeout_seconds));
        http::async_read_header(stream_, buffer_, *parser_,
                                [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                    self->on_header(ec);
                                });
    }

    void on_header(beast::error_code ec) {
        if (ec) {
            return read_failed(ec);
        }
        const auto expect = parser_->get()[http::field::expect];
        if (beast::iequals(expect, "100-continue")) {
            static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            net::async_write(stream_, net::buffer(kContinue),
                             [self = shared_from_this()](beast::error_code e, std::size_t) {
                                 if (e) {
                                     return self->gone();
                                 }
                                 self->read_body();
                             });
            return;
        }
        read_body();
    }

    void read_body() {
        stream_.expires_after(std::chrono::seconds(shared_->options.idle_timeout_seconds));
        http::async_read(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void read_failed(beast::error_code ec) {
        if (ec == http::error::body_limit) {
            return refuse(413, fmt::format("the request body exceeds the server's limit of {} "
                                           "bytes (--max-body-bytes)",
                                           shared_->options.max_body_bytes));
        }
        if (ec == http::error::end_of_stream || ec == net::error::eof ||
            ec == beast::error::timeout || ec == net::error::operation_aborted ||
            ec == net::error::connection_reset || buffer_.size() == 0) {
            return gone();
        }
        refuse(400, "malformed HTTP request: " + ec.message());
    }

    // Answers a request the server will not hand to the handler, then closes.
    void refuse(int status, const std::string& message) {
        keep_alive_ = false;
        in_response_ = true;
        ++id_;
        const std::string body =
            shared_->options.error_body ? shared_->options.error_body(status, message) : message;
        respond(id_, status, "application/json", body);
    }

    void on_read(beast::error_code ec) {
        if (ec) {
            return read_failed(ec);
        }
        auto req = parser_->release();
        keep_alive_ = req.keep_alive();
        version_ = req.version();
        HttpRequest r;
        r.method = std::string(req.method_string());
        const auto target_bv = req.target();
        const std::string_view target(target_bv.data(), target_bv.size());
        r.path = std::string(target.substr(0, target.find('?')));
        r.content_type = std::string(req[http::field::content_type]);
        r.body = std::move(req.body());
        ++id_;
        in_response_ = true;
        streaming_ = chunked_ = false;
        cancelled_ = std::make_shared<std::atomic<bool>>(false);
        watch_disconnect();
        try {
            shared_->handler(std::move(r), make_responder());
        } catch (const std::exception& e) {
            respond(
                id_, 500, "application/json",
                shared_->options.error_body
                    ? shared_->options.error_body(500, std::string("internal error: ") + e.what())
                    : e.what());
        }
    }

    // While a response is being produced no read is pending, so a readable socket with no
    // bytes means the client closed it: raise the cancel flag so its generation stops.
    void watch_disconnect() {
        stream_.socket().async_wait(tcp::socket::wait_read,
                                    [self = shared_from_this(), id = id_](beast::error_code ec) {
                                        if (ec || !self->current(id)) {
                                            return;
                                        }
                                        beast::error_code e;
                                        if (self->stream_.socket().available(e) == 0 || e) {
                                            self->gone();
                                        }
                                    });
    }

    std::shared_ptr<Responder> make_responder();

    void queue(std::string bytes) {
        out_.push_back(std::move(bytes));
        do_write();
    }

    void do_write() {
        if (writing_ || out_.empty() || closed_) {
            return;
        }
        writing_ = true;
        stream_.expires_after(std::chrono::seconds(shared_->options.write_timeout_seconds));
        net::async_write(stream_, net::buffer(out_.front()),
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             // out_.front() is this write's buffer even after gone() (which
                             // keeps it while the write is in flight).
                             self->writing_ = false;
                             self->out_.pop_front();
                             if (ec) {
                                 return self->gone();
                             }
                             self->do_write();
                             self->after_output();
                         });
    }

    void finish_response() {
        in_response_ = false;
        after_output();
    }

    // Once the response is written: the next request, or the end of the connection.
    void after_output() {
        if (writing_ || !out_.empty() || in_response_ || closed_) {
            return;
        }
        if (!keep_alive_) {
            closed_ = true;
            beast::error_code ec;
            stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
            stream_.socket().close(ec);
            return;
        }
        read_header();
    }

    void gone() {
        if (closed_) {
            return;
        }
        closed_ = true;
        if (in_response_ && cancelled_) {
            cancelled_->store(true);
        }
        // A write in flight still reads out_.front(), and its handler (maybe already queued
        // with a success code: the client left after the bytes went out) pops it.
        out_.erase(writing_ ? std::next(out_.begin()) : out_.begin(), out_.end());
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.socket().close(ec);
    }

    beast::tcp_stream stream_;
    std::shared_ptr<Shared> shared_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::deque<std::string> out_;
    std::shared_ptr<std::atomic<bool>> cancelled_;
    uint64_t id_ = 0;
    unsigned version_ = 11;
    bool keep_alive_ = true, in_response_ = false, streaming_ = false, chunked_ = false;
    bool writing_ = false, closed_ = false;
};

class SessionResponder : public Responder {
public:
    SessionResponder(std::shared_ptr<Session> s, uint64_t id,
                     std::shared_ptr<std::atomic<bool>> cancelled)
        : s_(std::move(s)), id_(id), cancelled_(std::move(cancelled)) {}

    void send(int status, std::string type, std::string body) override {
        post([s = s_, id = id_, status, type = std::move(type), body = std::move(body)] {
            s->respond(id, status, type, body);
        });
    }

    void begin_stream(int status, std::string type) override {
        post([s = s_, id = id_, status, type = std::move(type)] {
            s->begin_stream(id, status, type);
        });
    }

    void write(std::string data) override {
        post([s = s_, id = id_, data = std::move(data)] { s->write(id, data); });
    }

    void end_stream() override {
        post([s = s_, id = id_] { s->end_stream(id); });
    }

    std::shared_ptr<std::atomic<bool>> cancelled() const override { return cancelled_; }

    void post(std::function<void()> f) override { net::post(s_->executor(), std::move(f)); }

private:
    std::shared_ptr<Session> s_;
    uint64_t id_;
    std::shared_ptr<std::atomic<bool>> cancelled_;
};

std::shared_ptr<Responder> Session::make_responder() {
    return std::make_shared<SessionResponder>(shared_from_this(), id_, cancelled_);
}

}  // namespace

struct HttpServer::Impl {
    std::shared_ptr<Shared> shared = std::make_shared<Shared>();
    net::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    std::optional<net::signal_set> signals;
    std::thread thread;

    void accept() {
        acceptor.async_accept(ioc, [this](beast::error_code ec, tcp::socket socket) {
            if (!ec) {
                beast::error_code e;
                socket.set_option(tcp::no_delay(true), e);  // SSE chunks go out at once
                std::make_shared<Session>(std::move(socket), shared)->start();
            }
            if (acceptor.is_open()) {
                accept();
            }
        });
    }
};

HttpServer::HttpServer(HttpOptions options, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
    impl_->shared->options = std::move(options);
    impl_->shared->handler = std::move(handler);
    const auto& o = impl_->shared->options;
    beast::error_code ec;
    const auto address = net::ip::make_address(o.host, ec);
    QF_CHECK(!ec, "serve: --host {} is not an IP address ({})", o.host, ec.message());
    const tcp::endpoint endpoint(address, o.port);
    impl_->acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
        impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        impl_->acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    QF_CHECK(!ec, "serve: cannot listen on {}:{}: {}", o.host, o.port, ec.message());
}

HttpServer::~HttpServer() {
    stop();
    wait();
}

uint16_t HttpServer::port() const {
    return impl_->acceptor.local_endpoint().port();
}

void HttpServer::start() {
    impl_->accept();
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void HttpServer::stop_on_signals() {
    impl_->signals.emplace(impl_->ioc, SIGINT, SIGTERM);
    impl_->signals->async_wait([this](beast::error_code ec, int) {
        if (!ec) {
            stop();
        }
    });
}

void HttpServer::wait() {
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

void HttpServer::stop() {
    net::post(impl_->ioc, [this] {
        beast::error_code ec;
        impl_->acceptor.close(ec);
        if (impl_->signals) {
            impl_->signals->cancel(ec);
        }
        impl_->ioc.stop();
    });
}

int64_t HttpServer::open_connections() const {
    return impl_->shared->connections.load();
}

}  // namespace qforge::serve
