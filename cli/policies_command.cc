// retention policies check|coverage|table: validate, cover the catalog, document.
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"

namespace retention::cli {
namespace {

int RunCheck(const std::string& dir_flag) {
  std::string dir = ResolvePoliciesDir(dir_flag);
  LoadResult result = LoadPolicies(dir);
  size_t errors = 0, warnings = 0;
  for (const auto& d : result.diagnostics) {
    std::cerr << d.ToString() << "\n";
    (d.severity == Diagnostic::Severity::kError ? errors : warnings)++;
  }
  size_t rules = 0, manual = 0;
  for (const auto& p : result.policies.policies) {
    rules += p.rules.size();
    for (const auto& r : p.rules) manual += r.manual;
  }
  std::cout << fmt::format("{}: {} policies, {} rules ({} executable, {} manual), {} facts; {} errors, {} warnings\n",
                           dir, result.policies.policies.size(), rules, rules - manual, manual,
                           result.policies.vocabulary.definitions().size(), errors, warnings);
  return errors ? kExitFailed : kExitOk;
}

}  // namespace

void AddPoliciesCommand(CLI::App& app, SetAction set_action) {
  CLI::App* cmd = app.add_subcommand("policies", "Validate and document the policy files");
  cmd->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  CLI::App* check = cmd->add_subcommand("check", "Load every policy and report all problems with file:line:column");
  check->add_option("DIR", *dir, "Policy folder (default: $RETENTION_POLICIES, ./policies)");
  check->footer("Exit codes: 0 clean (warnings allowed), 1 errors found.\n\nExample:\n  retention policies check policies/");
  check->callback([dir, set_action] { set_action([dir] { return RunCheck(*dir); }); });
}

}  // namespace retention::cli
