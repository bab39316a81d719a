// SHA-256 and HMAC-SHA-256 as lowercase hex, on OpenSSL's libcrypto. Private.
#pragma once

#include <string>
#include <string_view>

namespace retention::internal {

std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace retention::internal
