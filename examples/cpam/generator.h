// The demo deployment: a synthetic health-insurer database (SQLite), call recordings
// and CCTV footage (files), keys, and a configuration binding a dozen rules.
#pragma once

#include <cstdint>
#include <string>

#include "retention/date.h"
#include "retention/status.h"

namespace retention::demo {

struct DemoOptions {
  std::string dir;             // created; must not hold a previous demo unless `force`
  int rows = 20000;            // database rows in all (files: rows / 100 each, at least 20)
  Date today;                  // dates are drawn around it
  std::string policies_dir;    // written into the configuration
  uint32_t seed = 20261122;
  bool force = false;
};

struct DemoSummary {
  std::string config;          // the configuration file
  int64_t records = 0;
  int64_t files = 0;
};

Result<DemoSummary> GenerateDemo(const DemoOptions& options);

// A valid-format synthetic NIR: sex, year, month, department, commune, order, and the
// control key 97 - (first 13 digits mod 97).
std::string SyntheticNir(uint64_t seed);
bool NirKeyValid(const std::string& nir);

}  // namespace retention::demo
