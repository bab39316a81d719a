// What every subcommand shares: exit codes, option helpers, loading policies.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "retention/date.h"
#include "retention/policy.h"

namespace retention::cli {

// Exit codes (docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;      // the command ran and found problems
inline constexpr int kExitBadInput = 2;    // bad argument, file or value
inline constexpr int kExitGuard = 3;       // a safety guard stopped the work
inline constexpr int kExitRefused = 4;     // a run was refused (clock guard, lock, future date, stale plan)
inline constexpr int kExitStoreDown = 5;   // a store was unavailable; the other stores' bindings ran

// Thrown by commands to leave with a message on stderr and an exit code.
struct Exit {
  int code;
  std::string message;
};

// --policies DIR, else $RETENTION_POLICIES, else ./policies, else the installed
// <prefix>/share/retention/policies, else the source tree's.
std::string ResolvePoliciesDir(const std::string& flag);
// Loads and prints diagnostics to stderr; throws Exit(2) when there are errors.
LoadResult LoadPoliciesOrExit(const std::string& dir);
// `NAME VERSION` and the policy-set hash of `policies_dir` (resolved as --policies is)
// when it loads without errors; for `--version`.
std::string VersionText(const char* name, const std::string& policies_dir);
// Parses YYYY-MM-DD, or today in Europe/Paris when empty; throws Exit(2) when invalid.
Date ParseAsOf(const std::string& text, const char* option);

}  // namespace retention::cli
