#include "common.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "retention/clock.h"
#include "retention/version.h"

namespace retention::cli {

std::string ResolvePoliciesDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("RETENTION_POLICIES"); env && *env) return env;
  if (std::filesystem::is_regular_file("policies/facts.yaml")) return "policies";
  // Installed: <prefix>/bin/retention next to <prefix>/share/retention/policies.
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  auto installed = exe.parent_path().parent_path() / "share/retention/policies";
  if (!ec && std::filesystem::is_regular_file(installed / "facts.yaml", ec)) return installed.string();
  return RETENTION_SOURCE_POLICIES;
}

LoadResult LoadPoliciesOrExit(const std::string& dir) {
  LoadResult result = LoadPolicies(dir);
  for (const auto& d : result.diagnostics) std::cerr << d.ToString() << "\n";
  if (HasErrors(result.diagnostics))
    throw Exit{kExitBadInput, fmt::format("the policies in {} have errors (see above)", dir)};
  return result;
}

std::string VersionText(const char* name, const std::string& policies_dir) {
  std::string text = fmt::format("{} {}", name, Version());
  std::string dir = ResolvePoliciesDir(policies_dir);
  LoadResult loaded = LoadPolicies(dir);
  if (HasErrors(loaded.diagnostics)) return text + fmt::format("\npolicies {}: not loadable (run `retention policies check`)", dir);
  return text + fmt::format("\npolicies {} {}", dir, loaded.policies.hash);
}

Date ParseAsOf(const std::string& text, const char* option) {
  if (text.empty()) return SystemClock().Today();
  auto d = Date::Parse(text);
  if (!d) throw Exit{kExitBadInput, fmt::format("{} '{}' is not a valid date (expected YYYY-MM-DD)", option, text)};
  return *d;
}

}  // namespace retention::cli
