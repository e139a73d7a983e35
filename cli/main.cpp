// dnsguardctl: the command line of dnsguard. `validate` and `compile` work offline;
// the verbs that talk to a running agent arrive with the agent.

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/compile.hpp"
#include "policy/policy.hpp"

namespace {

using namespace dnsguard;

// Exit statuses shared by every verb (see README).
constexpr int kOk = 0;
constexpr int kPolicyOrRequestError = 1;

constexpr std::string_view kUsage = R"TXT(usage: dnsguardctl COMMAND [ARGS]

Commands that work offline (no agent needed):
  validate FILE   check a policy; print every error as file:line:col: key: message
  compile FILE    print the nft text the policy compiles to (nft -c -f - accepts it)

Run `dnsguardctl COMMAND --help` for one command.
Exit status: 0 success, 1 policy or request error, 2 agent unreachable.
)TXT";

constexpr std::string_view kValidateHelp = R"TXT(usage: dnsguardctl validate FILE

Parses and checks a policy without an agent. Prints "FILE: ok (policy NAME version N)"
or every error found, each as file:line:col: key: message. Exit status 0 or 1.
)TXT";

constexpr std::string_view kCompileHelp = R"TXT(usage: dnsguardctl compile FILE

Prints the nft text for a policy: one transaction that replaces table inet dnsguard and
touches no other table. `dnsguardctl compile FILE | nft -c -f -` checks it against the
running kernel; `nft -f` would apply it. Exit status 0, or 1 with the policy's errors.
)TXT";

bool wants_help(const std::vector<std::string_view>& args) {
  for (auto a : args)
    if (a == "--help" || a == "-h") return true;
  return false;
}

int print_errors(const Errors& errors) {
  for (const auto& e : errors) std::cerr << e.to_string() << '\n';
  std::cerr << errors.size() << (errors.size() == 1 ? " error\n" : " errors\n");
  return kPolicyOrRequestError;
}

int single_file_verb(std::string_view verb, const std::vector<std::string_view>& args,
                     std::string_view help) {
  if (wants_help(args)) {
    std::cout << help;
    return kOk;
  }
  if (args.size() != 1) {
    std::cerr << "dnsguardctl " << verb << ": expected exactly one policy FILE\n" << help;
    return kPolicyOrRequestError;
  }
  return -1;  // arguments fine
}

int validate(const std::vector<std::string_view>& args) {
  if (int rc = single_file_verb("validate", args, kValidateHelp); rc >= 0) return rc;
  const std::string path(args[0]);
  auto policy = policy::load_policy_file(path);
  if (!policy) return print_errors(policy.errors());
  std::cout << path << ": ok (policy " << policy->name << " version " << policy->version << ")\n";
  return kOk;
}

int compile(const std::vector<std::string_view>& args) {
  if (int rc = single_file_verb("compile", args, kCompileHelp); rc >= 0) return rc;
  auto policy = policy::load_policy_file(std::string(args[0]));
  if (!policy) return print_errors(policy.errors());
  std::cout << ir::render_nft(compiler::compile(policy.value()));
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? kPolicyOrRequestError : kOk;
  }
  const std::string_view verb = args[0];
  args.erase(args.begin());
  if (verb == "validate") return validate(args);
  if (verb == "compile") return compile(args);
  std::cerr << "dnsguardctl: unknown command \"" << verb << "\"\n\n" << kUsage;
  return kPolicyOrRequestError;
}
