#pragma once
// What both ways of talking to agents (one over the Unix socket, many over TLS) share:
// argument parsing, the channel, the policy file sent, and errors as the agent sent them.

#include <grpcpp/grpcpp.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "dnsguard/v1/agent.pb.h"

namespace dnsguard::cli {

// "90", "90s", "5m", "2h" as seconds, for --confirm-within and --timeout; nullopt for
// anything else, and for more than kMaxDurationSeconds (a week: past that it is a typo,
// and 71582789m would otherwise wrap around to 44 seconds).
inline constexpr uint64_t kMaxDurationSeconds = 7 * 24 * 3600;
inline std::optional<uint32_t> parse_duration(std::string_view s) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || ptr == s.data() || n > kMaxDurationSeconds) return std::nullopt;
  const std::string_view unit(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
  uint64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (scale == 0 || n * scale > kMaxDurationSeconds) return std::nullopt;
  return static_cast<uint32_t>(n * scale);
}

// A whole decimal number and nothing else (--canary, --parallel, --expect-generation).
template <typename Number>
std::optional<Number> parse_number(std::string_view s) {
  Number n{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return n;
}

// A channel that carries policies up to the API's message limit.
std::shared_ptr<grpc::Channel> agent_channel(const std::string& target,
                                             const std::shared_ptr<grpc::ChannelCredentials>& credentials);

// The policy file as sent to the agent; the reason when it cannot be read.
std::optional<std::string> load_source(const std::string& path, v1::PolicySource& source);

// One policy error from the agent, as file:line:col: key: message.
Error to_error(const v1::PolicyError& e);

}  // namespace dnsguard::cli
