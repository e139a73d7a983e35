#pragma once
// A policy error as the API carries it: shared by the service and dnsguardctl's
// offline `-o json validate`.

#include "common/error.hpp"
#include "dnsguard/v1/agent.pb.h"

namespace dnsguard::api {

inline void to_proto(const Error& e, v1::PolicyError* out) {
  if (e.where) {
    out->set_file(e.where->file);
    out->set_line(e.where->line);
    out->set_column(e.where->column);
  }
  out->set_key(e.key);
  out->set_message(e.message);
}

}  // namespace dnsguard::api
