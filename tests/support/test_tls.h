// Certificates made by the tests themselves (chapter 23): a throwaway CA and
// server certificates it signs, built with libcrypto in memory and written
// as PEM files into a temporary directory that is removed afterwards. No
// `openssl` command, no file outside the temporary directory.
// Also the switch that runs a conformance binary over TLS: with
// OPENPIPE_TEST_TLS=1 every TestServer listens with TLS and every RawClient
// speaks TLS (tests/ch23_autobahn_tls_test.cpp re-runs chapter 15 that way).
// Header-only; namespace ws::test.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ws::test {

// True when the environment asks for the TLS transport (OPENPIPE_TEST_TLS=1).
inline bool tls_mode() {
  static const bool on = [] {
    const char* value = std::getenv("OPENPIPE_TEST_TLS");
    return value != nullptr && std::string(value) == "1";
  }();
  return on;
}

// A key and its certificate, as PEM text.
struct PemPair {
  std::string cert;
  std::string key;
};

namespace detail {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(size));
  BIO_free(bio);
  return text;
}

inline std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  return bio_text(bio);
}

inline std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio);
}

inline void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key`, named `common_name`, signed by issuer (or by
// itself when issuer is null: a root CA).
inline CertPtr make_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                         EVP_PKEY* issuer_key, bool is_ca, const std::string& san) {
  static long serial = 1;
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);  // v3
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial + std::rand() % 100000);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (is_ca) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid");
    add_extension(cert.get(), signer, NID_subject_alt_name, san);
  }
  X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

}  // namespace detail

// A throwaway CA that signs server certificates, and the directory that
// holds its files (removed by the destructor).
class TestCa {
 public:
  explicit TestCa(const std::string& name = "openpipe test CA")
      : key_(EVP_EC_gen("P-256"), EVP_PKEY_free), cert_(nullptr, X509_free) {
    cert_ = detail::make_cert(key_.get(), name, nullptr, nullptr, true, "");
    char pattern[] = "/tmp/openpipe-tls-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    ca_file_ = write("ca.pem", detail::pem_of(cert_.get()));
  }
  ~TestCa() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // A server certificate for `san` ("DNS:localhost,IP:127.0.0.1"), written
  // as `<stem>.pem` and `<stem>.key`. Returns the two paths.
  PemPair issue(const std::string& stem,
                const std::string& san = "DNS:localhost,IP:127.0.0.1,IP:::1") {
    detail::KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    detail::CertPtr cert =
        detail::make_cert(key.get(), "openpipe test server", cert_.get(), key_.get(), false, san);
    last_spki_ = spki_hash(cert.get());
    return {write(stem + ".pem", detail::pem_of(cert.get())),
            write(stem + ".key", detail::pem_of(key.get()))};
  }

  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }
  // base64(SHA-256(SubjectPublicKeyInfo)) of the last certificate issued:
  // what Chromium's --ignore-certificate-errors-spki-list takes.
  const std::string& last_spki_hash() const { return last_spki_; }

  std::string write(const std::string& name, const std::string& text) const {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

 private:
  static std::string spki_hash(X509* cert) {
    unsigned char* der = nullptr;
    int length = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<size_t>(length), digest);
    OPENSSL_free(der);
    unsigned char text[64] = {};
    EVP_EncodeBlock(text, digest, SHA256_DIGEST_LENGTH);
    return reinterpret_cast<char*>(text);
  }

  detail::KeyPtr key_;
  detail::CertPtr cert_;
  std::string dir_;
  std::string ca_file_;
  std::string last_spki_;
};

// The CA and server certificate of OPENPIPE_TEST_TLS=1 runs: one per process.
inline TestCa& process_ca() {
  static TestCa ca;
  return ca;
}
inline const PemPair& process_server_cert() {
  static const PemPair pair = process_ca().issue("server");
  return pair;
}

}  // namespace ws::test
