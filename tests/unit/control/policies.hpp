#pragma once
// Small policies shared by the controller and API tests.

#include <string>

namespace dnsguard::testing {

inline std::string policy_text(int version, const std::string& resolver = "192.0.2.53") {
  return "[policy]\nname = \"test\"\nversion = " + std::to_string(version) +
         "\n[egress]\n[[egress.resolvers]]\nname = \"corp\"\naddresses = [\"" + resolver + "\"]\n";
}

}  // namespace dnsguard::testing
