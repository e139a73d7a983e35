// The policy loader on any text: a policy or errors, never a crash; every error has a
// message, and a loaded policy compiles and renders.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "compiler/compile.hpp"
#include "policy/policy.hpp"

using namespace dnsguard;

namespace {
std::optional<uint32_t> users(const std::string& name) {
  if (name == "unbound") return 101;
  return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = policy::load_policy_text(text, "/nonexistent/fuzz.toml", {users});
  if (!p) {
    for (const auto& e : p.errors())
      if (e.message.empty()) abort();
    return 0;
  }
  const auto nft = ir::render_nft(compiler::compile(p.value()));
  if (nft.find("table inet dnsguard {") == std::string::npos) abort();
  return 0;
}
