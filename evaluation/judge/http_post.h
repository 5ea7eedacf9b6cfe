// What is here: one blocking HTTP/1.1 POST over plain TCP (Boost.Beast), with a timeout, for
// the OpenAI-compatible judge. https:// URLs are refused with a clear message.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace qforge::eval {

struct HttpUrl {
    std::string host;
    std::string port = "80";
    std::string target = "/";  // path and query
};

// "http://host[:port][/path]". Anything else is a qforge::Error naming the URL.
HttpUrl parse_http_url(const std::string& url);

struct HttpResponse {
    int status = 0;
    std::string body;
};

// POSTs `body` (application/json) to `url` with extra headers. A failure to resolve, connect,
// send or read within timeout_s is a qforge::Error "<what> <url>: <reason>".
HttpResponse http_post_json(const std::string& url, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            double timeout_s, const std::string& what = "HTTP");

}  // namespace qforge::eval
