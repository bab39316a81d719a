// retention runs list | show ID: the runs the state database records, with their
// status and counts per binding (no key, no digest).
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "deployment_loader.h"

namespace retention::cli {
namespace {

using nlohmann::ordered_json;

struct RunsOptions {
  std::string config, policies, format = "text";
  int64_t id = 0;
  int limit = 20;
};

std::vector<RunRecord> ReadRuns(const RunsOptions& o) {
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
  auto runs = loaded->state->Runs();
  if (!runs.ok()) throw Exit{kExitFailed, runs.status().message()};
  return std::move(*runs);
}

ordered_json RunJson(const RunRecord& r) {
  ordered_json j;
  j["id"] = r.id;
  j["status"] = r.status;
  j["as_of"] = r.as_of.ToString();
  j["started_at"] = r.started_at;
  j["ended_at"] = r.ended_at;
  j["policy_set"] = r.policy_hash;
  j["configuration"] = r.config_hash;
  // The counts are written by the engine; a row edited into invalid JSON shows as text.
  ordered_json counts = ordered_json::parse(r.counts.empty() ? "{}" : r.counts, nullptr, false);
  j["counts"] = counts.is_discarded() ? ordered_json(r.counts) : counts;
  return j;
}

// Rows applied per action over every binding of the run ("archive 3, delete 12").
std::string AppliedSummary(const ordered_json& counts) {
  std::map<std::string, int64_t> total;
  if (counts.is_object() && counts.contains("bindings") && counts["bindings"].is_array())
    for (const auto& b : counts["bindings"])
      if (b.is_object() && b.contains("applied") && b["applied"].is_object())
        for (const auto& [action, n] : b["applied"].items())
          if (n.is_number_integer()) total[action] += n.get<int64_t>();
  std::vector<std::string> parts;
  for (const auto& [action, n] : total) parts.push_back(fmt::format("{} {}", action, n));
  return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, ", "));
}

int RunList(const RunsOptions& o) {
  auto runs = ReadRuns(o);
  size_t first = runs.size() > static_cast<size_t>(o.limit) ? runs.size() - o.limit : 0;
  ordered_json all = ordered_json::array();
  for (size_t i = first; i < runs.size(); ++i) all.push_back(RunJson(runs[i]));
  if (o.format == "json") {
    std::cout << all.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{:>5}  {:<11} {:<10}  {:<20}  {:<20}  {}\n", "run", "status", "as of", "started (UTC)",
                           "ended (UTC)", "applied");
  for (const auto& j : all)
    std::cout << fmt::format("{:>5}  {:<11} {:<10}  {:<20}  {:<20}  {}\n", j["id"].get<int64_t>(),
                             j["status"].get<std::string>(), j["as_of"].get<std::string>(),
                             j["started_at"].get<std::string>(), j["ended_at"].get<std::string>(),
                             AppliedSummary(j["counts"]));
  if (all.empty()) std::cout << "(no run yet)\n";
  return kExitOk;
}

int RunShow(const RunsOptions& o) {
  auto runs = ReadRuns(o);
  auto it = std::find_if(runs.begin(), runs.end(), [&](const RunRecord& r) { return r.id == o.id; });
  if (it == runs.end()) throw Exit{kExitBadInput, fmt::format("no run #{} in the state database", o.id)};
  ordered_json j = RunJson(*it);
  if (o.format == "json") {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("Run #{}: {}\n  as of       {}\n  started     {}\n  ended       {}\n  policies    {}\n"
                           "  config      {}\n", it->id, it->status, it->as_of.ToString(), it->started_at,
                           it->ended_at.empty() ? "-" : it->ended_at, it->policy_hash, it->config_hash);
  const ordered_json& counts = j["counts"];
  if (counts.is_object() && counts.contains("bindings") && counts["bindings"].is_array())
    for (const auto& b : counts["bindings"]) {
      if (!b.is_object()) continue;
      std::cout << fmt::format("  {:<30} {:<28} {}{}\n", b.value("binding", ""), b.value("rule", ""),
                               AppliedSummary(ordered_json{{"bindings", ordered_json::array({b})}}),
                               b.contains("guard") ? "  GUARD: " + b.value("guard", "") : "");
    }
  if (counts.is_object() && counts.contains("unavailable_stores"))
    std::cout << fmt::format("  stores unavailable: {}\n", counts["unavailable_stores"].dump());
  std::cout << fmt::format("Audit entries: `retention audit show --config {} --run {}`\n", o.config, it->id);
  return kExitOk;
}

void Common(CLI::App* cmd, RunsOptions* o) {
  cmd->add_option("--config,-c", o->config, "The deployment configuration (YAML)")->required();
  cmd->add_option("--policies", o->policies, "Policy folder (default: the configuration's `policies`)");
  cmd->add_option("--format", o->format, "Output format")->check(CLI::IsMember({"text", "json"}));
}

}  // namespace

void AddRunsCommand(CLI::App& app, SetAction set_action) {
  CLI::App* runs = app.add_subcommand("runs", "The runs recorded in the state database");
  runs->require_subcommand(1);
  auto o = std::make_shared<RunsOptions>();
  CLI::App* list = runs->add_subcommand("list", "The last runs: id, status, as-of date, times, rows applied");
  Common(list, o.get());
  list->add_option("--last", o->limit, "How many runs (default 20)")->check(CLI::Range(1, 100000));
  list->callback([o, set_action] { set_action([o] { return RunList(*o); }); });
  CLI::App* show = runs->add_subcommand("show", "One run: status, dates, hashes, rows applied per binding");
  Common(show, o.get());
  show->add_option("id", o->id, "The run number")->required()->check(CLI::PositiveNumber);
  show->callback([o, set_action] { set_action([o] { return RunShow(*o); }); });
  runs->footer(R"(
Statuses: running (or killed: the next run records its batches), done, guarded,
incomplete, interrupted (stopped between batches by retentiond), failed.

Examples:
  retention runs list --config deploy.yaml
  retention runs show 12 --config deploy.yaml --format json)");
}

}  // namespace retention::cli
