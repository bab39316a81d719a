#include "run/policy_lock.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "retention/policy_change.h"

namespace retention {

std::string LockFinding::Message() const {
  std::string who = fmt::format("lock entry {}, by {} on {}: {}", lock.entry, lock.author, lock.time, lock.reason);
  if (rule_missing)
    return fmt::format("rule {} is locked ({}) but is not in this policy set (removed or renamed): restore it, or "
                       "override the lock with `retention policies unlock`", lock.rule_id, who);
  std::vector<std::string> actions, bindings;
  for (const auto& [action, n] : by_action) actions.push_back(fmt::format("{} {}", PhaseName(action), n));
  for (const auto& [binding, n] : by_binding) bindings.push_back(fmt::format("{} {}", binding, n));
  return fmt::format("rule {} is locked ({}); under this policy set {} record(s) would be acted on earlier than the "
                     "locked version allows ({}; by binding: {}), {} of them at once: review the change with `retention "
                     "policies diff --config`, keep the rule at least as long, or override the lock with `retention "
                     "policies unlock`", lock.rule_id, who, earlier, fmt::join(actions, ", "), fmt::join(bindings, ", "),
                     at_once);
}

namespace internal {
namespace {

nlohmann::ordered_json ByAction(const LockFinding& f) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [action, n] : f.by_action) j[PhaseName(action)] = n;
  return j;
}

Result<LockFinding> CheckOne(const PolicyLock& lock, const Deployment& deployment, const PolicySet& policies,
                             const Stores& stores, const StateDb& state, Date as_of, const HoldChecker* holds,
                             std::map<std::string, PolicySet>* versions) {
  LockFinding f;
  f.lock = lock;
  const Rule* rule = policies.FindRule(lock.rule_id);
  if (!rule) {  // a rule renamed but implementing the locked id is still found, and compared
    f.rule_missing = true;
    return f;
  }
  if (RuleMeaningHash(*rule, policies.vocabulary) == lock.rule_hash) return f;  // unchanged in meaning
  auto it = versions->find(lock.version);
  if (it == versions->end()) {
    auto loaded = state.LoadPolicyVersion(lock.version);
    if (!loaded.ok())
      return Status::FailedPrecondition(fmt::format("rule {} is locked at a version that cannot be read: {}",
                                                    lock.rule_id, loaded.status().message()));
    it = versions->emplace(lock.version, std::move(*loaded)).first;
  }
  ImpactOptions o;
  o.as_of = as_of;
  o.rules = {lock.rule_id};
  o.holds = holds;
  auto impact = EvaluateImpact(deployment, it->second, policies, stores, o);
  if (!impact.ok()) return impact.status();
  for (const auto& b : impact->bindings) {
    if (b.earlier_records == 0) continue;
    f.by_binding[b.binding] = b.earlier_records;
    f.earlier += b.earlier_records;
    for (const auto& [action, c] : b.actions) {
      f.at_once += c.at_once;
      if (c.earlier > 0) f.by_action[action] += c.earlier;
    }
  }
  return f;
}

}  // namespace

Result<std::vector<LockFinding>> CheckPolicyLocks(const Deployment& deployment, const PolicySet& policies,
                                                  const Stores& stores, const StateDb& state, Date as_of,
                                                  const HoldChecker* holds) {
  auto locks = state.PolicyLocks();
  if (!locks.ok()) return locks.status();
  std::vector<LockFinding> out;
  std::map<std::string, PolicySet> versions;
  // The bindings of stores that could not be opened are neither planned nor run (exit 5):
  // nothing to compare there.
  Deployment open = deployment;
  open.bindings.clear();
  for (const auto& b : deployment.bindings)
    if (stores.Available(b)) open.bindings.push_back(b);
  for (const auto& lock : *locks) {
    auto f = CheckOne(lock, open, policies, stores, state, as_of, holds, &versions);
    if (!f.ok()) return f.status();
    if (f->rule_missing || f->earlier > 0) out.push_back(std::move(*f));
  }
  return out;
}

Status RefuseLocked(const std::vector<LockFinding>& findings) {
  std::vector<std::string> messages;
  for (const auto& f : findings)
    if (!f.overridden()) messages.push_back(f.Message());
  if (messages.empty()) return Status::Ok();
  return Status::FailedPrecondition(fmt::format("refused by a retention lock: {}", fmt::join(messages, "; ")));
}

std::string OverridesDetail(const std::vector<LockFinding>& findings) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& f : findings) {
    if (!f.overridden()) continue;
    list.push_back({{"rule", f.lock.rule_id}, {"lock_entry", f.lock.entry}, {"locked_version", f.lock.version},
                    {"override_entry", f.lock.override_entry}, {"override_author", f.lock.override_author},
                    {"override_reason", f.lock.override_reason}, {"override_time", f.lock.override_time},
                    {"rule_missing", f.rule_missing}, {"records_earlier", f.earlier}, {"at_once", f.at_once},
                    {"by_binding", f.by_binding}, {"by_action", ByAction(f)}});
  }
  if (list.empty()) return "";
  return nlohmann::ordered_json{{"overrides", list}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace internal
}  // namespace retention
