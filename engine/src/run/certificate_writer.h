// Writing a run's certificate (JSON, signed when a key is configured, and text). Private.
#pragma once

#include <string>

#include "retention/run.h"

namespace retention::internal {

struct CertificateInput {
  const RunOutcome* outcome = nullptr;
  const Deployment* deployment = nullptr;
  const StateDb* state = nullptr;
  std::string status;
  std::string approval;     // the approval entry's detail (JSON), "" when none
  std::string allow_mass;   // the allow_mass entry's detail (JSON), "" when not used
  std::string assumptions;  // the assumptions entry's detail (JSON), "" when none
  std::string lock_overrides;  // the lock_override entry's detail (JSON), "" when none
};

Status WriteCertificate(const CertificateInput& input, const std::string& json_path, const std::string& text_path);

}  // namespace retention::internal
