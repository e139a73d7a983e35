#include "common.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dnsguard::cli {

std::shared_ptr<grpc::Channel> agent_channel(const std::string& target,
                                             const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, credentials, args);
}

std::optional<std::string> load_source(const std::string& path, v1::PolicySource& source) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read " + path + ": " + std::strerror(errno);
  std::ostringstream text;
  text << in.rdbuf();
  source.set_text(text.str());
  source.set_file_name(path);
  return std::nullopt;
}

Error to_error(const v1::PolicyError& e) {
  Error err;
  if (!e.file().empty()) err.where = SourceLocation{e.file(), e.line(), e.column()};
  err.key = e.key();
  err.message = e.message();
  return err;
}

}  // namespace dnsguard::cli
