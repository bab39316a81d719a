// retention report: the DPO's dry-run report (HTML, Markdown, JSON, CSV), and
// retention policies report: the register as encoded (HTML, Markdown).
#include <charconv>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "deployment_loader.h"
#include "record_commands.h"
#include "retention/policy_change.h"
#include "retention/report.h"

#include <nlohmann/json.hpp>

namespace retention::cli {
namespace {

struct ReportCliOptions {
  std::string config;
  std::string policies;
  std::string as_of;
  std::string horizon = "24m";
  std::string format = "html";
  std::string out;
  std::string proposed;  // a policy folder: the report adds what changing to it would do
};

// "24m", "2y" or "24": months.
int ParseHorizon(const std::string& text) {
  std::string digits = text;
  int factor = 1;
  if (!digits.empty() && (digits.back() == 'm' || digits.back() == 'y')) {
    factor = digits.back() == 'y' ? 12 : 1;
    digits.pop_back();
  }
  int n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || n < 1 || n * factor > 120)
    throw Exit{kExitBadInput, fmt::format("--horizon '{}': give 1 to 120 months, as 24m or 2y", text)};
  return n * factor;
}

void Write(const std::string& text, const std::string& out) {
  if (out.empty()) {
    std::cout << text;
    return;
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw Exit{kExitBadInput, fmt::format("cannot write {}", out)};
}

// The report with a section on changing to the policies in `o.proposed`: what changes in
// meaning, and how many bound records each action reaches earlier, later or at once.
// Counts only: the report prints no key.
std::string WithPolicyChange(const ReportCliOptions& o, const OpenedDeployment& loaded, Date as_of, std::string text) {
  LoadResult proposed = LoadPoliciesOrExit(o.proposed);
  PolicyDiff diff = DiffPolicies(loaded.policies, proposed.policies);
  PolicyImpact impact = ImpactOrExit(loaded, loaded.policies, proposed.policies, as_of, 0);
  if (o.format == "json") {
    auto j = nlohmann::ordered_json::parse(text);
    j["policy_change"] = nlohmann::ordered_json::parse(PolicyChangeJson(diff, &impact));
    return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  }
  if (o.format == "md") return text + "\n## Policy change (" + o.proposed + ")\n\n```\n" + PolicyChangeText(diff, &impact) + "```\n";
  size_t end = text.rfind("</body>");
  return text.substr(0, end) + PolicyChangeHtmlSection(diff, &impact) + text.substr(end);
}

int RunReport(const ReportCliOptions& o) {
  if (!o.proposed.empty() && o.format == "csv")
    throw Exit{kExitBadInput, "--proposed adds a section to an html, md or json report, not to csv"};
  ReportOptions ro;
  ro.as_of = ParseAsOf(o.as_of, "--as-of");
  ro.horizon_months = ParseHorizon(o.horizon);
  auto loaded = LoadForCommand(o.config, o.policies, true, State::kIfExists);
  ro.progress = TerminalProgress();
  auto report = BuildReport(loaded->deployment, loaded->policies, *loaded->stores,
                            loaded->state ? &*loaded->state : nullptr, ro);
  if (!report.ok()) {
    bool bad = report.status().code() == Status::Code::kInvalidArgument;
    throw Exit{bad ? kExitBadInput : kExitFailed, report.status().message()};
  }
  std::string text = o.format == "json" ? ReportJson(*report) + "\n"
                     : o.format == "md"  ? ReportMarkdown(*report)
                     : o.format == "csv" ? ReportCsv(*report)
                                         : ReportHtml(*report);
  if (!o.proposed.empty()) text = WithPolicyChange(o, *loaded, ro.as_of, std::move(text));
  Write(text, o.out);
  if (!o.out.empty()) std::cerr << fmt::format("report written to {}\n", o.out);
  return kExitOk;
}

struct RegisterOptions {
  std::string dir;
  std::string format = "html";
  std::string out;
};

void AddRegisterReport(CLI::App& app, SetAction set_action) {
  CLI::App* policies = app.get_subcommand("policies");
  auto o = std::make_shared<RegisterOptions>();
  CLI::App* cmd = policies->add_subcommand("report", "The register as encoded: every fiche, its rules, quotes and readings");
  cmd->add_option("DIR", o->dir, "Policy folder (default: $RETENTION_POLICIES, ./policies)");
  cmd->add_option("--format", o->format, "html or md")->check(CLI::IsMember({"html", "md"}));
  cmd->add_option("--out,-o", o->out, "Write to this file instead of stdout");
  cmd->footer("Example:\n  retention policies report --format html --out register.html");
  cmd->callback([o, set_action] {
    set_action([o] {
      LoadResult loaded = LoadPoliciesOrExit(ResolvePoliciesDir(o->dir));
      Write(o->format == "md" ? RegisterMarkdown(loaded.policies) : RegisterHtml(loaded.policies), o->out);
      return kExitOk;
    });
  });
}

}  // namespace

void AddReportCommands(CLI::App& app, SetAction set_action) {
  auto o = std::make_shared<ReportCliOptions>();
  CLI::App* cmd = app.add_subcommand("report", "The DPO's report: what a run would do, forecast, holds, history");
  cmd->add_option("--config,-c", o->config, "The deployment configuration (YAML)")->required();
  cmd->add_option("--policies", o->policies, "Policy folder (default: the configuration's `policies`, then ./policies)");
  cmd->add_option("--as-of", o->as_of, "Report as of this date, past or future (default: today)");
  cmd->add_option("--horizon", o->horizon, "Forecast horizon: 24m (default), 2y... up to 120 months");
  cmd->add_option("--format", o->format, "html (default), md, json or csv")->check(CLI::IsMember({"html", "md", "json", "csv"}));
  cmd->add_option("--out,-o", o->out, "Write to this file instead of stdout");
  cmd->add_option("--proposed", o->proposed,
                  "A policy folder: add what changing to it would do (rules changed in meaning, records each "
                  "action reaches earlier, later or at once; counts only)");
  cmd->footer(R"(
The report makes the plan `retention run` would make at the date (every record
evaluated), and adds: totals, operator holds with their reasons, missing facts,
assumptions, guards that would trip, manual rules, each fiche's title, legal basis and
quoted rule, a forecast per month, lateness per binding, and the history of past runs
from the state database. No record key or subject is printed (docs/reports.md).

Examples:
  retention report --config demo/config.yaml --format html --out report.html
  retention report --config deploy.yaml --as-of 2027-01-01 --horizon 36m --format json
  retention report --config demo/config.yaml --proposed /tmp/proposed --out report.html   # with a policy change)");
  cmd->callback([o, set_action] { set_action([o] { return RunReport(*o); }); });
  AddRegisterReport(app, set_action);
  AddSubjectCommand(app, set_action);
}

}  // namespace retention::cli
