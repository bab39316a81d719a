// Ed25519 signatures (OpenSSL EVP) for certificates, and random identifiers. Private.
#pragma once

#include <string>
#include <string_view>

#include "retention/status.h"

namespace retention::internal {

// Writes a new key pair as PEM: the private key owner-only (0600); neither file may exist.
Status GenerateEd25519(const std::string& private_path, const std::string& public_path);
// The signature of `message` (hex) under a PEM private key.
Result<std::string> SignEd25519(const std::string& private_pem, std::string_view message);
// Whether `signature_hex` signs `message` under a PEM public key.
Result<bool> VerifyEd25519(const std::string& public_pem, std::string_view message, const std::string& signature_hex);
// "sha256:" and the hex SHA-256 of the public key (DER) a PEM key (private or public) holds.
Result<std::string> KeyFingerprint(const std::string& pem, bool is_private);
// `bytes` random bytes from the OS generator, as hex.
std::string RandomHex(size_t bytes);

}  // namespace retention::internal
