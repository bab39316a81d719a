// Signed run certificates. Each run writes `certificates/run-N.json` (and a text copy);
// when the configuration names a `certificate_key`, the JSON carries an Ed25519
// signature over its canonical form (docs/operations.md).
#pragma once

#include <cstdint>
#include <string>

#include "retention/status.h"

namespace retention {

// Writes a new Ed25519 key pair as PEM files: the private key owner-only (0600), the
// public key 0644. Neither file may exist (nothing is overwritten).
Status GenerateCertificateKeys(const std::string& private_key_path, const std::string& public_key_path);

struct CertificateCheck {
  bool ok = false;
  std::string problem;         // why it does not verify
  int64_t run_id = 0;
  std::string status;          // the run's status
  int64_t audit_entries = 0;   // the chain's length and head the certificate states
  std::string audit_head;
  std::string key_fingerprint; // of the public key that verified it
};

// Checks a JSON certificate's signature with a PEM public key. An unsigned, edited or
// differently signed certificate is a CertificateCheck with ok = false; an unreadable
// file or key is an error.
Result<CertificateCheck> VerifyCertificate(const std::string& certificate_path, const std::string& public_key_path);

}  // namespace retention
