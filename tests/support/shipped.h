// The project's own policies, loaded once per test executable; they must load clean.
#pragma once

#include <catch2/catch.hpp>

#include "retention/policy.h"

namespace retention::testing {

inline const PolicySet& Shipped() {
  static const LoadResult loaded = LoadPolicies(RETENTION_SOURCE_DIR "/policies");
  static const bool clean = !HasErrors(loaded.diagnostics);
  REQUIRE(clean);
  return loaded.policies;
}

}  // namespace retention::testing
