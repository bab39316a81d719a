// Each subcommand registers itself on the app and, when chosen, hands back the
// function to run. Explicit registration from main.cc; no static registries.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace retention::cli {

using SetAction = std::function<void(std::function<int()>)>;

void AddExplainCommand(CLI::App& app, SetAction set_action);
void AddPoliciesCommand(CLI::App& app, SetAction set_action);
// `policies history|diff|lock|unlock|locks`, under the `policies` command.
void AddPolicyChangeCommands(CLI::App* policies, SetAction set_action);
void AddPlanRunCommands(CLI::App& app, SetAction set_action);
void AddHoldCommand(CLI::App& app, SetAction set_action);
void AddAuditCommand(CLI::App& app, SetAction set_action);
void AddDemoCommand(CLI::App& app, SetAction set_action);
void AddRunsCommand(CLI::App& app, SetAction set_action);
// `report`, `subject`, and `policies report` (after AddPoliciesCommand).
void AddReportCommands(CLI::App& app, SetAction set_action);

}  // namespace retention::cli
