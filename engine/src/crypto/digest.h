// SHA-256 and HMAC-SHA-256 as lowercase hex, on OpenSSL's libcrypto. Private.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace retention::internal {

std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// SHA-256 of data given in pieces (a file read block by block), as Sha256Hex gives it.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  std::string HexDigest();  // once, after the last Update

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace retention::internal
