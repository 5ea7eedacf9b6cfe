// What is here: ApiError, an HTTP error in OpenAI's shape
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// thrown by request parsing and caught by the router, which answers with its status.
#pragma once

#include <exception>
#include <string>

namespace qforge::serve {

struct ApiError : std::exception {
    ApiError(int status_, std::string message_, std::string param_ = {},
             std::string type_ = "invalid_request_error", std::string code_ = {})
        : status(status_),
          message(std::move(message_)),
          param(std::move(param_)),
          type(std::move(type_)),
          code(std::move(code_)) {}

    const char* what() const noexcept override { return message.c_str(); }

    int status;
    std::string message, param, type, code;
};

// The JSON body of an error (param and code null when empty).
std::string error_body(const ApiError& e);

// The same for a status and message alone (type from the status: 4xx invalid_request_error,
// 5xx server_error).
std::string error_body(int status, const std::string& message);

}  // namespace qforge::serve
