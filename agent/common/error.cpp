#include "common/error.hpp"

namespace dnsguard {

std::string Error::to_string() const {
  std::string out;
  if (where) {
    out += where->file;
    if (where->line != 0) {
      out += ':' + std::to_string(where->line);
      if (where->column != 0) out += ':' + std::to_string(where->column);
    }
    out += ": ";
  }
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

Error make_error(std::string message) { return Error{std::nullopt, {}, std::move(message)}; }

Error make_error(SourceLocation where, std::string key, std::string message) {
  return Error{std::move(where), std::move(key), std::move(message)};
}

Error make_error(ErrorCode code, std::string message) {
  Error e = make_error(std::move(message));
  e.code = code;
  return e;
}

Errors with_code(Errors errors, ErrorCode code) {
  for (auto& e : errors) e.code = code;
  return errors;
}

std::string join_errors(const Errors& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + '\n';
  return out;
}

}  // namespace dnsguard
