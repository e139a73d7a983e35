#include "control/state_store.hpp"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dnsguard::control {
namespace {

std::string errno_text() { return std::strerror(errno); }

// Writes all of `data` to `fd`, retrying short writes.
bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Status StateStore::prepare() const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error("cannot create state directory " + dir_.string() + ": " + errno_text());
  return ok_status();
}

Result<AgentState> StateStore::load() const {
  std::ifstream in(state_file(), std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return AgentState{};
    return make_error("cannot read " + state_file().string() + ": " + errno_text());
  }
  std::ostringstream text;
  text << in.rdbuf();
  AgentState state;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // a newer agent's state stays loadable
  const auto status = google::protobuf::util::JsonStringToMessage(text.str(), &state, options);
  if (!status.ok())
    return make_error("state file " + state_file().string() + " is not valid (" +
                      std::string(status.message()) + "); move it away to start without state");
  return state;
}

Status StateStore::save(const AgentState& state) const {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(state, &json, options).ok())
    return make_error("cannot encode the agent state");

  const std::string target = state_file().string();
  const std::string temp = target + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot write state to " + temp + ": " + errno_text());
  const bool written = write_all(fd, json) && ::fsync(fd) == 0;
  const std::string write_error = written ? "" : errno_text();
  ::close(fd);
  if (!written) {
    ::unlink(temp.c_str());
    return make_error("cannot write state to " + temp + ": " + write_error);
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const std::string err = errno_text();
    ::unlink(temp.c_str());
    return make_error("cannot replace " + target + ": " + err);
  }
  // The rename is durable only once the directory entry is.
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return ok_status();
}

}  // namespace dnsguard::control
