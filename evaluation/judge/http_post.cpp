// What is here: parse_http_url and http_post_json (see http_post.h).
#include "evaluation/judge/http_post.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "kernels/common.h"

namespace qforge::eval {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

HttpUrl parse_http_url(const std::string& url) {
    QF_CHECK(url.rfind("https://", 0) != 0,
             "{}: https is not supported by this build (use an http:// endpoint, e.g. behind a "
             "local TLS-terminating proxy)",
             url);
    const std::string scheme = "http://";
    QF_CHECK(url.rfind(scheme, 0) == 0, "{}: expected a URL of the form http://host[:port][/path]",
             url);
    HttpUrl u;
    const std::string rest = url.substr(scheme.size());
    const std::size_t slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos) {
        u.target = rest.substr(slash);
    }
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']') == std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
        QF_CHECK(!u.port.empty() && u.port.find_first_not_of("0123456789") == std::string::npos,
                 "{}: the port \"{}\" is not a number", url, u.port);
    } else {
        u.host = authority;
    }
    QF_CHECK(!u.host.empty(), "{}: no host in the URL", url);
    return u;
}

HttpResponse http_post_json(const std::string& url, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            double timeout_s, const std::string& what) {
    const HttpUrl u = parse_http_url(url);
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000.0));
    beast::error_code ec;
    const auto endpoints = resolver.resolve(u.host, u.port, ec);
    QF_CHECK(!ec, "{} {}: cannot resolve {}: {}", what, url, u.host, ec.message());
    stream.expires_after(timeout);
    stream.connect(endpoints, ec);
    QF_CHECK(!ec, "{} {}: cannot connect to {}:{}: {} (is the server running?)", what, url, u.host,
             u.port, ec.message());
    http::request<http::string_body> req{http::verb::post, u.target, 11};
    req.set(http::field::host, u.host + ":" + u.port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "qforge-eval");
    for (const auto& [k, v] : headers) {
        req.set(k, v);
    }
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(timeout);
    http::write(stream, req, ec);
    QF_CHECK(!ec, "{} {}: sending the request failed: {}", what, url, ec.message());
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    stream.expires_after(timeout);
    http::read(stream, buffer, res, ec);
    QF_CHECK(!ec, "{} {}: reading the response failed: {}", what, url,
             ec == beast::error::timeout ? fmt::format("no answer within {} s", timeout_s)
                                         : ec.message());
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return {static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace qforge::eval
