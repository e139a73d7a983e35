#include "api/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dnsguard::api {
namespace {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using Key = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;

Result<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(std::string("cannot read the ") + what + " " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "not PEM";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<X509Ptr> parse_certificate(const std::string& pem, const std::string& path, const char* what) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return make_error(std::string("the ") + what + " " + path + " is not a PEM certificate (" + openssl_error() + ")");
  return cert;
}

}  // namespace

Result<TlsMaterial> load_tls(const TlsFiles& files, bool identity_required) {
  TlsMaterial out;
  auto ca = read_file(files.ca, "CA certificate");
  if (!ca) return ca.errors();
  if (auto parsed = parse_certificate(ca.value(), files.ca, "CA certificate"); !parsed) return parsed.errors();
  out.ca = std::move(ca).value();
  if (files.certificate.empty() && files.key.empty() && !identity_required) return out;
  if (files.certificate.empty() || files.key.empty())
    return make_error("a certificate needs its key and a key its certificate");

  auto cert = read_file(files.certificate, "certificate");
  if (!cert) return cert.errors();
  auto key = read_file(files.key, "private key");
  if (!key) return key.errors();
  auto x509 = parse_certificate(cert.value(), files.certificate, "certificate");
  if (!x509) return x509.errors();
  Bio bio(BIO_new_mem_buf(key->data(), static_cast<int>(key->size())));
  Key pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return make_error("the private key " + files.key + " is not a PEM key (" + openssl_error() + ")");
  if (X509_check_private_key(x509->get(), pkey.get()) != 1) {
    ERR_clear_error();
    return make_error("the private key " + files.key + " does not belong to the certificate " + files.certificate);
  }
  out.certificate = std::move(cert).value();
  out.key = std::move(key).value();
  return out;
}

void require_tls13() {
  // PSK suites need a pre-shared key, which neither side has: TLS 1.2 cannot complete.
  ::setenv("GRPC_SSL_CIPHER_SUITES", "PSK-AES128-GCM-SHA256", 1);
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsMaterial& tls) {
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls.ca;
  options.pem_key_cert_pairs.push_back({tls.key, tls.certificate});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const TlsMaterial& tls) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.ca;
  options.pem_private_key = tls.key;
  options.pem_cert_chain = tls.certificate;
  return grpc::SslCredentials(options);
}

}  // namespace dnsguard::api
