#include "crypto/digest.h"

#include <algorithm>
#include <memory>
#include <string>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace retention::internal {
std::string ToHex(const unsigned char* bytes, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return ToHex(md, len);
}

namespace {

using MdCtx = std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)>;

// HMAC-SHA-256 (RFC 2104) with the key's inner and outer pads absorbed once: a run
// digests every key it changes under one audit key, and setting up an HMAC per call
// cost more than the hashing. One per thread, for the last key used.
class HmacSha256 {
 public:
  bool Matches(std::string_view key) const { return ready_ && key == key_; }

  ~HmacSha256() { OPENSSL_cleanse(key_.data(), key_.size()); }

  void Reset(std::string_view key) {
    OPENSSL_cleanse(key_.data(), key_.size());
    key_.assign(key.data(), key.size());
    unsigned char block[64] = {0};
    unsigned len = 0;
    if (key.size() > sizeof block) EVP_Digest(key.data(), key.size(), block, &len, EVP_sha256(), nullptr);
    else std::copy(key.begin(), key.end(), block);
    unsigned char pad[64];
    for (size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x36;
    ready_ = inner_ && outer_ && work_ && EVP_DigestInit_ex(inner_.get(), EVP_sha256(), nullptr) &&
             EVP_DigestUpdate(inner_.get(), pad, 64);
    for (size_t i = 0; i < 64; ++i) pad[i] = block[i] ^ 0x5c;
    ready_ = ready_ && EVP_DigestInit_ex(outer_.get(), EVP_sha256(), nullptr) && EVP_DigestUpdate(outer_.get(), pad, 64);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
  }

  // False when OpenSSL fails (the caller falls back to its one-shot HMAC).
  bool Digest(std::string_view data, unsigned char* md, unsigned* len) {
    unsigned char inner_md[EVP_MAX_MD_SIZE];
    unsigned inner_len = 0;
    return EVP_MD_CTX_copy_ex(work_.get(), inner_.get()) && EVP_DigestUpdate(work_.get(), data.data(), data.size()) &&
           EVP_DigestFinal_ex(work_.get(), inner_md, &inner_len) && EVP_MD_CTX_copy_ex(work_.get(), outer_.get()) &&
           EVP_DigestUpdate(work_.get(), inner_md, inner_len) && EVP_DigestFinal_ex(work_.get(), md, len);
  }

 private:
  std::string key_;
  bool ready_ = false;
  MdCtx inner_{EVP_MD_CTX_new(), EVP_MD_CTX_free}, outer_{EVP_MD_CTX_new(), EVP_MD_CTX_free},
      work_{EVP_MD_CTX_new(), EVP_MD_CTX_free};  // null when out of memory: Reset then fails
};

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  thread_local HmacSha256 hmac;
  if (!hmac.Matches(key)) hmac.Reset(key);
  if (hmac.Matches(key) && hmac.Digest(data, md, &len)) return ToHex(md, len);  // else: set-up failed
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &len);
  return ToHex(md, len);
}

struct Sha256Stream::Context {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md{EVP_MD_CTX_new(), EVP_MD_CTX_free};
};

Sha256Stream::Sha256Stream() : context_(std::make_unique<Context>()) {
  EVP_DigestInit_ex(context_->md.get(), EVP_sha256(), nullptr);
}

Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(std::string_view data) { EVP_DigestUpdate(context_->md.get(), data.data(), data.size()); }

std::string Sha256Stream::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(context_->md.get(), md, &len);
  return ToHex(md, len);
}

}  // namespace retention::internal
