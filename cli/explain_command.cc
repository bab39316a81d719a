// retention explain: one rule, one record's facts, the timeline and its derivation.
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "retention/evaluator.h"
#include "retention/explain.h"
#include "record_commands.h"

namespace retention::cli {
namespace {

struct ExplainOptions {
  std::string rule;
  std::vector<std::string> facts;
  std::vector<std::string> assume;
  std::string as_of;
  std::string policies;
  std::string format = "text";
  RecordOptions record;  // --config --binding --key: one record read from its store
};

Facts ParseFactOptions(const Vocabulary& vocabulary, const std::vector<std::string>& items, const char* option) {
  Facts facts;
  for (const auto& f : items) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Exit{kExitBadInput, fmt::format("{} '{}' must be NAME=VALUE", option, f)};
    std::string name = f.substr(0, eq);
    auto value = ParseFactValue(vocabulary, name, f.substr(eq + 1));
    if (!value.ok()) throw Exit{kExitBadInput, value.status().message()};
    facts[name] = *value;
  }
  return facts;
}

int RunExplain(const ExplainOptions& o) {
  if (!o.record.config.empty()) {
    if (!o.rule.empty() || !o.facts.empty() || !o.assume.empty())
      throw Exit{kExitBadInput, "--config reads the record's facts from its store: give --binding and --key, not "
                                "--rule, --fact or --assume"};
    RecordOptions r = o.record;
    r.as_of = o.as_of;
    r.policies = o.policies;
    r.format = o.format;
    return RunExplainRecord(r);
  }
  if (o.rule.empty()) throw Exit{kExitBadInput, "--rule is required (or --config with --binding and --key, to explain a stored record)"};
  Date as_of = ParseAsOf(o.as_of, "--as-of");
  LoadResult loaded = LoadPoliciesOrExit(ResolvePoliciesDir(o.policies));
  const PolicySet& set = loaded.policies;
  const Rule* rule = set.FindRule(o.rule);
  if (!rule)
    throw Exit{kExitBadInput, fmt::format("unknown rule '{}': give a policy rule id or a catalog rule id "
                                          "(see `retention policies table`)", o.rule)};
  Facts facts = ParseFactOptions(set.vocabulary, o.facts, "--fact");
  Facts assume = ParseFactOptions(set.vocabulary, o.assume, "--assume");
  for (const auto& [name, value] : assume)
    if (std::holds_alternative<Date>(value))
      throw Exit{kExitBadInput, fmt::format("--assume {}: a date is never assumed (only flags and enumerations)", name)};
  Evaluation e = Evaluate(*rule, facts, as_of, assume);
  std::cout << (o.format == "json" ? ExplainJson(e, o.rule) + "\n" : ExplainText(e, *rule, o.rule));
  return kExitOk;
}

}  // namespace

void AddExplainCommand(CLI::App& app, std::function<void(std::function<int()>)> set_action) {
  auto o = std::make_shared<ExplainOptions>();
  CLI::App* cmd = app.add_subcommand("explain", "Compute one record's timeline under one rule, and show how");
  cmd->footer(R"(
A timeline lists each action (archive, pseudonymise, delete) with the first day it
is allowed. The status is one of: scheduled, due, hold, missing_fact, no_case, manual.

Examples:
  retention explain --rule F01.droits --fact fin_droits=2023-11-21 --as-of 2026-11-22
  retention explain --rule F19.deces_atmp --fact deces=2012-03-04 --fact atmp=true --format json
  retention explain --rule F02.droits --fact fin_droits=2020-01-31 --fact contentieux=true
  retention explain --rule F50.taux --fact collecte=2020-02-29 --assume contentieux=false
  retention explain --config demo/config.yaml --binding F05.prestations --key 42

With --config, the record's facts are read from its store and evaluated as `plan` and
`run` evaluate them (the binding's assumptions included); operator holds on it are shown.

A flag that is not given is unknown, never false: if it could keep the record longer,
the status is missing_fact and names it. --assume states a value for a fact the store
does not record (as a binding's `assume:` does); the derivation says so.

Exit codes: 0 evaluated, 2 bad rule id, fact name or value.)");
  cmd->add_option("--rule", o->rule, "Policy rule id, or a catalog rule id it implements");
  cmd->add_option("--config,-c", o->record.config, "A deployment: explain one record read from its store (with --binding, --key)");
  cmd->add_option("--binding,-b", o->record.binding, "With --config: the binding the record belongs to");
  cmd->add_option("--key", o->record.key, "With --config: the record's key in that binding");
  cmd->add_option("--fact", o->facts, "NAME=VALUE: YYYY-MM-DD, true/false, or an enumeration word (repeatable)");
  cmd->add_option("--assume", o->assume, "NAME=VALUE: a flag or enumeration the store does not record (repeatable)");
  cmd->add_option("--as-of", o->as_of, "Evaluate as of this date (default: today in Europe/Paris)");
  cmd->add_option("--policies", o->policies, "Policy folder (default: $RETENTION_POLICIES, ./policies)");
  cmd->add_option("--format", o->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([o, set_action] { set_action([o] { return RunExplain(*o); }); });
}

}  // namespace retention::cli
