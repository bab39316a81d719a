// Fuzzes the configuration loader: the input is the text of a deployment configuration,
// loaded against the shipped policies. Loading only parses and validates (no store is
// opened, no file read or written); whatever the text, it returns diagnostics, never
// crashes. A configuration without errors names only stores and rules that exist, and
// its numbers are in range (batch size, guard limits).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "retention/deployment.h"
#include "shipped.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& policies = retention::fuzz::ShippedPolicies();
  retention::DeploymentLoad load =
      retention::LoadDeploymentText(retention::fuzz::Text(data, size), "fuzz.yaml", "/nonexistent/fuzz", policies);
  bool errors = false;
  for (const auto& d : load.diagnostics) {
    RETENTION_FUZZ_REQUIRE(!d.message.empty());
    errors = errors || d.severity == retention::Diagnostic::Severity::kError;
  }
  if (errors) return 0;
  for (const auto& b : load.deployment.bindings) {
    RETENTION_FUZZ_REQUIRE(load.deployment.FindStore(b.store) != nullptr);
    RETENTION_FUZZ_REQUIRE(b.rule != nullptr);
    RETENTION_FUZZ_REQUIRE(b.batch_size >= 1 && b.batch_size <= 100000);
    RETENTION_FUZZ_REQUIRE(b.guard.max_rows >= 0);
    RETENTION_FUZZ_REQUIRE(std::isfinite(b.guard.max_fraction) && b.guard.max_fraction >= 0 && b.guard.max_fraction <= 1);
  }
  return 0;
}
