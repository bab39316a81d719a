// SHA-256 and HMAC-SHA-256 as lowercase hex, on OpenSSL's libcrypto. Private.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace retention::internal {

std::string ToHex(const unsigned char* bytes, size_t len);  // lowercase
std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace retention::internal
