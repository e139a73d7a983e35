#pragma once
// Mutual TLS for the agent's TCP listener and for dnsguardctl talking to remote agents:
// the PEM files are read and checked with OpenSSL up front (a key that does not match
// its certificate is an error here, not a failed handshake later), then handed to gRPC.

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "common/error.hpp"

namespace dnsguard::api {

struct TlsFiles {
  std::string certificate;  // PEM: this side's certificate (chain)
  std::string key;          // PEM: its private key
  std::string ca;           // PEM: the CA that signs the other side
};

struct TlsMaterial {
  std::string certificate, key, ca;
};

// Reads and checks the files. With `identity_required` false, certificate and key may
// both be empty (a client without a certificate: the agent will refuse it, which tests
// want to show).
Result<TlsMaterial> load_tls(const TlsFiles& files, bool identity_required = true);

// Restricts TLS to version 1.3 for every gRPC channel and server of this process. gRPC
// 1.51 has no setting for the minimum version, but takes the TLS 1.2 cipher list from
// GRPC_SSL_CIPHER_SUITES: a list no certificate handshake can use leaves TLS 1.2 with
// nothing to negotiate, while TLS 1.3's own suites are untouched. Call before any gRPC
// object exists.
void require_tls13();

// A server that requires and verifies a client certificate signed by `ca`.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsMaterial& tls);
std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const TlsMaterial& tls);

}  // namespace dnsguard::api
