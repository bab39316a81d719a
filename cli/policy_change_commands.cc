// retention policies history | diff | lock | unlock | locks: policy changes under control.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "deployment_loader.h"
#include "retention/policy_change.h"

namespace retention::cli {
namespace {

struct ChangeOptions {
  std::string config, policies, as_of, format = "text", reason, author, old_side, new_side;
  std::vector<std::string> rules;
  bool all = false;
};

// Lock and unlock append to the keyed chain: it must verify under this key first.
void VerifiedOrExit(const StateDb& state) {
  auto v = state.VerifyAudit();
  if (!v.ok()) throw Exit{kExitFailed, v.status().message()};
  if (!v->ok)
    throw Exit{kExitRefused, fmt::format("the audit chain does not verify under this audit key (at {}: {}); nothing "
                                         "was recorded: see `retention audit verify`", v->first_bad_id, v->problem)};
}

std::string Short(const std::string& id) { return id.substr(0, 12); }

int RunHistory(const ChangeOptions& o) {
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kIfExists);
  if (!loaded->state) {
    std::cout << (o.format == "json" ? "[]\n" : "no state database yet: the first run (or lock) creates it; plans "
                                                  "record their version once it exists\n");
    return kExitOk;
  }
  auto versions = loaded->state->PolicyVersions();
  if (!versions.ok()) throw Exit{kExitFailed, versions.status().message()};
  auto locks = loaded->state->PolicyLocks();
  if (!locks.ok()) throw Exit{kExitFailed, locks.status().message()};
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  std::string text = fmt::format("Policy versions used ({}):\n", loaded->deployment.state_path.empty() ? "PostgreSQL state database" : loaded->deployment.state_path);
  for (const auto& v : *versions) {
    nlohmann::ordered_json runs = nlohmann::ordered_json::array();
    std::vector<std::string> run_text;
    for (const auto& r : v.runs) {
      runs.push_back({{"run", r.id}, {"as_of", r.as_of.ToString()}, {"status", r.status}, {"started_at", r.started_at}});
      run_text.push_back(fmt::format("#{} as of {} {}", r.id, r.as_of.ToString(), r.status));
    }
    std::vector<std::string> locked;
    for (const auto& l : *locks)
      if (l.version == v.id) locked.push_back(l.rule_id + (l.override_entry ? " (overridden)" : ""));
    list.push_back({{"version", v.id}, {"first_used", v.first_used}, {"policy_hashes", v.policy_hashes},
                    {"plans", v.plans}, {"last_planned", v.last_planned}, {"runs", runs}, {"locks", locked}});
    text += fmt::format("\n{}  first used {}; {} plan(s){}\n  runs: {}\n  files: {}\n", Short(v.id), v.first_used, v.plans,
                        v.last_planned.empty() ? "" : ", last " + v.last_planned,
                        run_text.empty() ? "none" : fmt::format("{}", fmt::join(run_text, ", ")),
                        fmt::join(v.policy_hashes, ", "));
    if (!locked.empty()) text += fmt::format("  locked rules: {}\n", fmt::join(locked, ", "));
  }
  if (versions->empty()) text += "  none yet (a plan or run records the version it used)\n";
  std::cout << (o.format == "json" ? list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n" : text);
  return kExitOk;
}

// A folder of policies, or a version recorded in the state database.
PolicySet LoadSide(const std::string& what, const char* name, OpenedDeployment* d) {
  std::error_code ec;
  if (std::filesystem::is_directory(what, ec)) return std::move(LoadPoliciesOrExit(what).policies);
  if (!d) throw Exit{kExitBadInput, fmt::format("{} '{}' is not a policy folder (a recorded version needs --config)", name, what)};
  if (!d->state)
    throw Exit{kExitBadInput, fmt::format("{} '{}' is not a policy folder, and no version is recorded yet (no state "
                                          "database)", name, what)};
  auto id = d->state->FindPolicyVersion(what);
  if (!id.ok()) throw Exit{kExitBadInput, fmt::format("{}: {}", name, id.status().message())};
  auto set = d->state->LoadPolicyVersion(*id);
  if (!set.ok()) throw Exit{kExitFailed, set.status().message()};
  return std::move(*set);
}

int RunDiff(const ChangeOptions& o) {
  if (o.format == "html" && o.config.empty()) throw Exit{kExitBadInput, "--format html needs --config (the impact)"};
  std::unique_ptr<OpenedDeployment> loaded;
  std::error_code ec;
  if (!o.config.empty()) {
    std::string policies = std::filesystem::is_directory(o.new_side, ec) ? o.new_side : o.policies;
    loaded = LoadForCommand(o.config, policies, true, State::kIfExists);
  } else if (!o.as_of.empty()) {
    throw Exit{kExitBadInput, "--as-of needs --config (the records to evaluate)"};
  }
  PolicySet old_set = LoadSide(o.old_side, "OLD", loaded.get());
  PolicySet new_set = LoadSide(o.new_side, "NEW", loaded.get());
  PolicyDiff diff = DiffPolicies(old_set, new_set);
  std::optional<PolicyImpact> impact;
  if (loaded) impact = ImpactOrExit(*loaded, old_set, new_set, ParseAsOf(o.as_of, "--as-of"), ImpactOptions{}.sample_size);
  const PolicyImpact* i = impact ? &*impact : nullptr;
  if (o.format == "json") std::cout << PolicyChangeJson(diff, i) << "\n";
  else if (o.format == "html") std::cout << PolicyChangeHtmlPage(diff, i);
  else std::cout << PolicyChangeText(diff, i);
  return kExitOk;
}

// --rule ID (repeatable) or --all, as the set's rule ids.
std::vector<std::string> RulesOrExit(const ChangeOptions& o, const PolicySet& set) {
  if (o.all == !o.rules.empty()) throw Exit{kExitBadInput, "give --rule ID (repeatable) or --all, not both"};
  std::vector<std::string> out;
  if (o.all)
    for (const Rule* r : set.AllRules()) out.push_back(r->id);
  for (const auto& id : o.rules) {
    const Rule* r = set.FindRule(id);
    if (!r) throw Exit{kExitBadInput, fmt::format("unknown rule '{}'", id)};
    out.push_back(r->id);
  }
  return out;
}

std::string AuthorOrExit(const std::string& author, bool required) {
  if (!author.empty()) return author;
  const char* user = std::getenv("USER");
  if (!required && user && *user) return user;
  throw Exit{kExitBadInput, "--author is required (who decides; recorded in the audit chain)"};
}

int RunLock(const ChangeOptions& o, bool lock) {
  if (o.reason.empty()) throw Exit{kExitBadInput, "--reason is required (recorded in the audit chain)"};
  std::string author = AuthorOrExit(o.author, !lock);
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kRequired);
  StateDb& state = *loaded->state;
  VerifiedOrExit(state);
  std::vector<std::string> rules;
  if (lock) {
    rules = RulesOrExit(o, loaded->policies);
  } else if (o.all == !o.rules.empty()) {
    throw Exit{kExitBadInput, "give --rule ID (repeatable) or --all, not both"};
  } else {
    auto locks = state.PolicyLocks();
    if (!locks.ok()) throw Exit{kExitFailed, locks.status().message()};
    for (const auto& l : *locks)
      if (!l.override_entry && (o.all || std::find(o.rules.begin(), o.rules.end(), l.rule_id) != o.rules.end()))
        rules.push_back(l.rule_id);
    for (const auto& r : o.rules)
      if (std::find(rules.begin(), rules.end(), r) == rules.end()) throw Exit{kExitBadInput, fmt::format("rule '{}' is not locked", r)};
    if (rules.empty()) throw Exit{kExitBadInput, "no rule is locked"};
  }
  Status s = lock ? state.LockRules(loaded->policies, rules, o.reason, author) : state.UnlockRules(rules, o.reason, author);
  if (!s.ok()) throw Exit{s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kNotFound ? kExitBadInput : kExitFailed,
                          s.message()};
  if (lock)
    std::cout << fmt::format("Locked {} rule(s) at policy version {} by {}: {}\n", rules.size(),
                             Short(PolicyVersionId(loaded->policies)), author, fmt::join(rules, ", "));
  else
    std::cout << fmt::format("Overrode the lock of {} rule(s) by {}: {}\nRuns that act earlier than the locked version "
                             "record it, and their certificates list it.\n", rules.size(), author, fmt::join(rules, ", "));
  return kExitOk;
}

int RunLocks(const ChangeOptions& o) {
  auto loaded = LoadForCommand(o.config, o.policies, false, State::kIfExists);
  if (!loaded->state) {
    std::cout << "no rule is locked (no state database yet)\n";
    return kExitOk;
  }
  auto locks = loaded->state->PolicyLocks();
  if (!locks.ok()) throw Exit{kExitFailed, locks.status().message()};
  for (const auto& l : *locks) {
    std::cout << fmt::format("{:<30} version {} entry {} by {} on {}: {}\n", l.rule_id, Short(l.version), l.entry,
                             l.author, l.time, l.reason);
    if (l.override_entry)
      std::cout << fmt::format("{:<30} OVERRIDDEN entry {} by {} on {}: {}\n", "", l.override_entry, l.override_author,
                               l.override_time, l.override_reason);
  }
  if (locks->empty()) std::cout << "no rule is locked\n";
  return kExitOk;
}

void ConfigOptions(CLI::App* cmd, ChangeOptions* o, bool required) {
  CLI::Option* c = cmd->add_option("--config,-c", o->config, "The deployment configuration (YAML)");
  if (required) c->required();
  cmd->add_option("--policies", o->policies, "Policy folder (default: the configuration's `policies`)");
}

void AddLockCommands(CLI::App* cmd, SetAction set_action) {
  for (bool lock : {true, false}) {
    auto o = std::make_shared<ChangeOptions>();
    CLI::App* sub = cmd->add_subcommand(lock ? "lock" : "unlock",
                                        lock ? "Lock rules: no run may act on their records earlier than now"
                                             : "Override a lock (needs the audit key; recorded, and on every certificate "
                                               "of the runs that rely on it)");
    ConfigOptions(sub, o.get(), true);
    sub->add_option("--rule", o->rules, "A rule id (repeatable)");
    sub->add_flag("--all", o->all, lock ? "Every rule of the policy set" : "Every locked rule");
    sub->add_option("--reason", o->reason, "Why (recorded in the audit chain)");
    sub->add_option("--author", o->author, lock ? "Who decides (default: $USER)" : "Who decides (required)");
    sub->footer(lock ? R"(
While a rule is locked, `retention plan` flags and `retention run` refuses (exit 4) a
policy set under which any bound record of the rule would be archived, pseudonymised or
deleted earlier than under the version locked now; later is allowed (docs/operations.md).

Example (from the repository, after `retention demo init --dir demo`):
  retention policies lock --config demo/config.yaml --rule F05.prestations \
      --reason "délai validé par le DPO" --author "DPO office")"
                     : R"(
Exit codes: 0 done, 2 bad input (no reason or author, rule not locked, no audit key),
4 the audit chain does not verify under this key.

Example:
  retention policies unlock --config demo/config.yaml --rule F05.prestations \
      --reason "nouvelle délibération du 2026-12-01" --author "DPO office")");
    sub->callback([o, lock, set_action] { set_action([o, lock] { return RunLock(*o, lock); }); });
  }
  auto o = std::make_shared<ChangeOptions>();
  CLI::App* locks = cmd->add_subcommand("locks", "List the rule locks and their overrides (from the audit chain)");
  ConfigOptions(locks, o.get(), true);
  locks->footer("Example (after `retention demo init --dir demo`):\n  retention policies locks --config demo/config.yaml");
  locks->callback([o, set_action] { set_action([o] { return RunLocks(*o); }); });
}

}  // namespace

void AddPolicyChangeCommands(CLI::App* cmd, SetAction set_action) {
  auto h = std::make_shared<ChangeOptions>();
  CLI::App* history = cmd->add_subcommand("history", "The policy versions plans and runs used, with their runs");
  ConfigOptions(history, h.get(), true);
  history->add_option("--format", h->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  history->footer(R"(
A version is the meaning of a policy set (docs/operations.md): reformatting, comments and
the quoted register text do not make a new one.

Example (after `retention demo init --dir demo && retention run --config demo/config.yaml --allow-mass`):
  retention policies history --config demo/config.yaml)");
  history->callback([h, set_action] { set_action([h] { return RunHistory(*h); }); });

  auto d = std::make_shared<ChangeOptions>();
  CLI::App* diff = cmd->add_subcommand("diff", "What changes in meaning between two policy sets, and which records it moves");
  diff->add_option("OLD", d->old_side, "A policy folder, or a version from `policies history` (with --config)")->required();
  diff->add_option("NEW", d->new_side, "A policy folder, or a recorded version")->required();
  ConfigOptions(diff, d.get(), false);
  diff->add_option("--as-of", d->as_of, "With --config: evaluate as of this date (default: today)");
  diff->add_option("--format", d->format, "Output format")->check(CLI::IsMember({"text", "json", "html"}));
  diff->footer(R"(
Per rule: durations, anchors, phases, cases, holds, manual or executable. With --config,
every record bound to a changed rule is evaluated under both sets (the plan's code path)
and, per binding and action, the records whose dates move earlier, later, or become due
at once are counted, with sample keys (as `retention plan` shows them).

Examples (from the repository):
  cp -r policies /tmp/proposed      # then edit /tmp/proposed, e.g. a duration
  retention policies diff policies/ /tmp/proposed/
  retention demo init --dir demo
  retention policies diff policies/ /tmp/proposed/ --config demo/config.yaml --as-of 2027-01-01
  retention policies diff policies/ /tmp/proposed/ --config demo/config.yaml --format html > impact.html
  retention policies history --config demo/config.yaml   # a VERSION, then:
  retention policies diff VERSION /tmp/proposed/ --config demo/config.yaml --format json)");
  diff->callback([d, set_action] { set_action([d] { return RunDiff(*d); }); });
  AddLockCommands(cmd, set_action);
}

}  // namespace retention::cli
