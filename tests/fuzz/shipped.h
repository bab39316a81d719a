// The shipped vocabulary and policies, loaded once per fuzzing process. A fuzzer that
// cannot load them aborts at start: fuzzing against an empty vocabulary would test nothing.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "retention/policy.h"

namespace retention::fuzz {

inline const PolicySet& ShippedPolicies() {
  static const PolicySet set = [] {
    LoadResult load = LoadPolicies(std::string(RETENTION_SOURCE_DIR) + "/policies");
    if (load.policies.policies.empty() || load.policies.vocabulary.definitions().empty()) {
      std::fprintf(stderr, "fuzz: cannot load the shipped policies from %s/policies\n", RETENTION_SOURCE_DIR);
      std::abort();
    }
    return std::move(load.policies);
  }();
  return set;
}

inline const Vocabulary& ShippedVocabulary() { return ShippedPolicies().vocabulary; }

// One value for each named fact the vocabulary knows: `date` for dates, true for
// flags, the first word of an enumeration. Unknown names are left out.
inline Facts SampleFacts(const Vocabulary& vocabulary, const std::vector<std::string>& names, Date date) {
  Facts facts;
  for (const auto& name : names) {
    const FactDefinition* def = vocabulary.Find(name);
    if (!def) continue;
    if (def->type == FactType::kDate) facts[name] = date;
    else if (def->type == FactType::kFlag) facts[name] = true;
    else if (!def->values.empty()) facts[name] = def->values.front();
  }
  return facts;
}

inline std::string Text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// A property the target checks was violated: crash so libFuzzer saves the input.
#define RETENTION_FUZZ_REQUIRE(cond)                                                 \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "fuzz: property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

}  // namespace retention::fuzz
