// retention policies check|coverage|table: validate, cover the catalog, document.
#include <iostream>

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "retention/catalog.h"

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

int RunCoverage(const std::string& dir_flag, const std::string& catalog_path) {
  LoadResult loaded = LoadPoliciesOrExit(ResolvePoliciesDir(dir_flag));
  auto catalog = LoadCatalog(catalog_path);
  if (!catalog.ok()) throw Exit{kExitBadInput, catalog.status().message()};
  Coverage coverage = CheckCoverage(loaded.policies, *catalog);
  for (const auto& row : coverage.rows) {
    std::string rule = row.rules.empty() ? "-" : row.rules.front()->id;
    std::string kind = row.rules.empty() ? "MISSING" : row.rules.size() > 1 ? "DUPLICATE"
                       : row.rules.front()->manual ? "manual" : "executable";
    std::cout << fmt::format("{:<40} {:<36} {}\n", row.catalog_id, rule, kind);
  }
  for (const auto& p : coverage.problems) std::cerr << "error: " << p << "\n";
  std::cout << fmt::format("{}/{} catalog ids covered ({} executable, {} manual); {} problems\n", coverage.covered,
                           catalog->rule_count(), coverage.executable, coverage.manual, coverage.problems.size());
  return coverage.ok() && coverage.covered == catalog->rule_count() ? kExitOk : kExitFailed;
}

// Writes `text` to `output` (or stdout), or with `check` compares it with the file.
int Emit(const std::string& text, const std::string& output, bool check) {
  if (check) {
    std::ifstream in(output);
    std::stringstream current;
    current << in.rdbuf();
    if (current.str() == text) return kExitOk;
    std::cerr << fmt::format("{} is out of date: regenerate it with --output {}\n", output, output);
    return kExitFailed;
  }
  if (output.empty()) {
    std::cout << text;
    return kExitOk;
  }
  std::ofstream out(output);
  out << text;
  if (!out) throw Exit{kExitBadInput, fmt::format("cannot write {}", output)};
  return kExitOk;
}

struct DocOptions {
  std::string dir;
  std::string output;
  bool check = false;
};

void AddDocCommand(CLI::App* parent, const char* name, const char* help, const char* example, SetAction set_action,
                   std::string (*render)(const PolicySet&)) {
  auto o = std::make_shared<DocOptions>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("DIR", o->dir, "Policy folder (default: $RETENTION_POLICIES, ./policies)");
  cmd->add_option("--output,-o", o->output, "Write to this file instead of stdout");
  cmd->add_flag("--check", o->check, "Compare with --output instead of writing it; exit 1 when they differ");
  cmd->footer(example);
  cmd->callback([o, set_action, render] {
    set_action([o, render] {
      if (o->check && o->output.empty()) throw Exit{kExitBadInput, "--check needs --output FILE"};
      LoadResult loaded = LoadPoliciesOrExit(ResolvePoliciesDir(o->dir));
      return Emit(render(loaded.policies), o->output, o->check);
    });
  });
}

std::string RenderTable(const PolicySet& p) { return PoliciesTableMarkdown(p); }
std::string RenderFacts(const PolicySet& p) { return FactsMarkdown(p.vocabulary); }

}  // namespace

void AddPoliciesCommand(CLI::App& app, SetAction set_action) {
  CLI::App* cmd = app.add_subcommand("policies", "Validate, document, version, compare and lock the policy files");
  cmd->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  CLI::App* check = cmd->add_subcommand("check", "Load every policy and report all problems with file:line:column");
  check->add_option("DIR", *dir, "Policy folder (default: $RETENTION_POLICIES, ./policies)");
  check->footer("Exit codes: 0 clean (warnings allowed), 1 errors found.\n\nExample:\n  retention policies check policies/");
  check->callback([dir, set_action] { set_action([dir] { return RunCheck(*dir); }); });

  auto catalog = std::make_shared<std::string>();
  auto cov_dir = std::make_shared<std::string>();
  CLI::App* coverage = cmd->add_subcommand("coverage", "List every catalog rule id with the policy rule implementing it");
  coverage->add_option("DIR", *cov_dir, "Policy folder (default: $RETENTION_POLICIES, ./policies)");
  coverage->add_option("--catalog", *catalog, "The catalog file (catalog.yaml: the register split into rule ids)")
      ->required()->check(CLI::ExistingFile);
  coverage->footer("Exit codes: 0 every id implemented exactly once and quoted verbatim, 1 otherwise, 2 bad input.\n\n"
                   "The catalog is the register split into rule ids (catalog.yaml); it is not part of this\n"
                   "repository: give its path.\n\n"
                   "Example:\n  retention policies coverage --catalog /path/to/catalog/catalog.yaml");
  coverage->callback([cov_dir, catalog, set_action] {
    set_action([cov_dir, catalog] { return RunCoverage(*cov_dir, *catalog); });
  });
  AddDocCommand(cmd, "table", "Render every policy's rules as a Markdown table (docs/policies.md)",
                "Examples:\n  retention policies table --output docs/policies.md\n"
                "  retention policies table --output docs/policies.md --check   # exit 1 if it drifted",
                set_action, RenderTable);
  AddDocCommand(cmd, "facts", "Render the vocabulary of facts as Markdown (docs/facts.md)",
                "Example:\n  retention policies facts --output docs/facts.md", set_action, RenderFacts);
  AddPolicyChangeCommands(cmd, set_action);
}

}  // namespace retention::cli
