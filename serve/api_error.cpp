// What is here: error_body (see api_error.h).
#include "serve/api_error.h"

#include <nlohmann/json.hpp>

namespace qforge::serve {

std::string error_body(const ApiError& e) {
    nlohmann::json j;
    j["error"]["message"] = e.message;
    j["error"]["type"] = e.type;
    j["error"]["param"] = e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param);
    j["error"]["code"] = e.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.code);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string error_body(int status, const std::string& message) {
    const char* type = status >= 500 ? "server_error" : "invalid_request_error";
    const char* code = status == 413 ? "request_too_large" : "";
    return error_body(ApiError(status, message, {}, type, code));
}

}  // namespace qforge::serve
