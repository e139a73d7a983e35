#pragma once
// The one error type of dnsguard. Errors that come from user input carry the place
// (file:line:col) and the dotted key they are about, so a message reads like
//   policy.toml:12:5: egress.resolvers[1].addresses[0]: "192.0.2.300" is not ...

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace dnsguard {

struct SourceLocation {
  std::string file;
  uint32_t line = 0;    // 1-based; 0 when unknown
  uint32_t column = 0;  // 1-based; 0 when unknown
};

// What kind of failure an error is, so the API edge can map it to a status code.
enum class ErrorCode : uint8_t {
  invalid_input,        // the user's input (a policy, a request) is wrong
  failed_precondition,  // the request is fine but the agent's state does not allow it
  kernel,               // the kernel refused; nothing was changed
  unknown_outcome,      // the kernel's answer was lost: it may or may not have committed
  storage,              // the state directory could not be written or read
  internal,
};

struct Error {
  std::optional<SourceLocation> where;
  std::string key;  // dotted path of the offending key, e.g. "egress.resolvers[0].name"
  std::string message;
  ErrorCode code = ErrorCode::invalid_input;

  // "file:line:col: key: message", leaving out the parts that are unknown.
  std::string to_string() const;
};

Error make_error(std::string message);
Error make_error(SourceLocation where, std::string key, std::string message);

Error make_error(ErrorCode code, std::string message);

using Errors = std::vector<Error>;

// The same errors, re-classified (e.g. a backend error as `kernel`).
Errors with_code(Errors errors, ErrorCode code);

// A value or the errors that prevented it. Errors are a list because a policy is
// checked as a whole: the user sees every mistake at once, not one per run.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(Errors{std::move(error)}) {}
  Result(Errors errors) : state_(std::move(errors)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Errors& errors() const { return std::get<Errors>(state_); }

 private:
  std::variant<T, Errors> state_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

std::string join_errors(const Errors& errors);

}  // namespace dnsguard
