#include "retention/run.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "retention/recover.h"

namespace retention {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

// Bindings whose due count exceeds their guard, unless allowed.
void ApplyGuards(const Plan& dry, const Deployment& d, const RunOptions& o, ExecuteOptions* exec, bool* tripped) {
  for (const auto& bp : dry.bindings) {
    const Binding* b = d.FindBinding(bp.binding);
    if (!b || bp.manual) continue;
    if (o.approved) {
      auto it = o.approved->counts.find(bp.binding);
      std::map<Phase, int64_t> limits = it == o.approved->counts.end() ? std::map<Phase, int64_t>{} : it->second;
      exec->limits[bp.binding] = limits;
      continue;
    }
    if (o.allow_mass) continue;
    int64_t due = bp.DueTotal();
    double fraction = bp.total_rows ? static_cast<double>(due) / static_cast<double>(bp.total_rows) : 0;
    std::string why;
    if (due > b->guard.max_rows)
      why = fmt::format("{} rows due, above max_rows {}", due, b->guard.max_rows);
    else if (due > 0 && fraction > b->guard.max_fraction)
      why = fmt::format("{} of {} rows due ({:.1f}%), above max_fraction {:.1f}%", due, bp.total_rows, 100 * fraction,
                        100 * b->guard.max_fraction);
    if (!why.empty()) {
      exec->blocked[bp.binding] = why + ": skipped (review with `retention plan --save`, then run --approved, or --allow-mass)";
      *tripped = true;
    }
  }
}

ordered_json CountsJson(const Plan& plan) {
  ordered_json bindings = ordered_json::array();
  for (const auto& b : plan.bindings) {
    ordered_json j;
    j["binding"] = b.binding;
    j["rule"] = b.rule_id;
    ordered_json applied = ordered_json::object();
    for (const auto& [p, n] : b.applied) applied[PhaseName(p)] = n;
    j["applied"] = applied;
    if (!b.guard.empty()) j["guard"] = b.guard;
    bindings.push_back(j);
  }
  return bindings;
}

Status WriteCertificate(const RunOutcome& out, const Deployment& d, const StateDb& state, const std::string& json_path,
                        const std::string& text_path, const std::string& status) {
  auto verification = state.VerifyAudit();
  if (!verification.ok()) return verification.status();
  auto entries = state.Audit(out.run_id);
  if (!entries.ok()) return entries.status();
  ordered_json j;
  j["certificate"] = "retention deletion certificate";
  j["run_id"] = out.run_id;
  j["status"] = status;
  j["as_of"] = out.plan.as_of.ToString();
  j["policy_set"] = out.plan.policy_hash;
  j["configuration"] = out.plan.config_hash;
  j["configuration_file"] = d.path;
  ordered_json actions = ordered_json::array();
  std::string text = fmt::format(
      "Deletion certificate\n====================\nRun {} ({}), as of {}\nPolicy set    {}\nConfiguration {}\n\n",
      out.run_id, status, out.plan.as_of.ToString(), out.plan.policy_hash, out.plan.config_hash);
  text += fmt::format("{:<34} {:<30} {:<13} {:>8}\n", "binding", "rule", "action", "records");
  for (const auto& b : out.plan.bindings)
    for (const auto& [p, n] : b.applied) {
      actions.push_back({{"binding", b.binding}, {"rule", b.rule_id}, {"action", PhaseName(p)}, {"records", n}});
      text += fmt::format("{:<34} {:<30} {:<13} {:>8}\n", b.binding, b.rule_id, PhaseName(p), n);
    }
  for (const auto& b : out.plan.bindings)
    if (!b.guard.empty()) text += fmt::format("\nNOT APPLIED {}: {}\n", b.binding, b.guard);
  j["actions"] = actions;
  j["audit_entries"] = entries->size();
  j["audit_head"] = verification->head;
  j["audit_chain_verified"] = verification->ok;
  text += fmt::format("\nAudit: {} entries for this run; chain {} (head {}).\n"
                      "Keys appear in the audit only as HMAC-SHA-256 digests under the deployment's audit key.\n",
                      entries->size(), verification->ok ? "verified" : "BROKEN", verification->head);
  std::ofstream(json_path) << j.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  std::ofstream(text_path) << text;
  return Status::Ok();
}

// Before anything else, the batches an interrupted run changed but never recorded.
Status RecoverJournals(const Deployment& d, const PolicySet& policies, const Stores& stores, StateDb* state,
                       RunOutcome* out) {
  auto recovery = RecoverInterruptedBatches(d, stores, state, policies.hash);
  if (!recovery.ok()) return recovery.status();
  out->recovered_batches = recovery->recorded;
  out->recovered_records = recovery->records;
  return Status::Ok();
}

}  // namespace

Result<RunOutcome> PlanOrRun(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                             StateDb* state, const RunOptions& o) {
  Date today = o.clock->Today();
  Date as_of = o.as_of.value_or(today);
  RunOutcome out;
  if (state)
    if (Status s = state->ReloadHolds(); !s.ok()) return s;
  ExecuteOptions exec;
  exec.as_of = as_of;
  exec.only_bindings = o.only_bindings;
  exec.full_scan = o.full_scan && !o.apply;
  exec.holds = state ? &state->holds() : nullptr;
  exec.progress = o.progress;
  exec.pseudonymise_keys = o.pseudonymise_keys;
  exec.on_record = o.on_record;
  if (!o.apply) {
    auto plan = Execute(deployment, policies, stores, exec);
    if (!plan.ok()) return plan.status();
    out.plan = std::move(*plan);
    return out;
  }

  // A run: every refusal happens before anything changes.
  if (!state) return Status::InvalidArgument("a run needs the state database");
  if (as_of > today)
    return Status::FailedPrecondition(fmt::format("a run cannot be dated in the future ({} is after today, {}); "
                                                  "use `retention plan --as-of` for forecasts", as_of.ToString(),
                                                  today.ToString()));
  if (Status s = state->LockForRun(); !s.ok()) return s;
  struct Unlock {
    StateDb* s;
    ~Unlock() { s->Unlock(); }
  } unlock{state};
  if (Status s = RecoverJournals(deployment, policies, stores, state, &out); !s.ok()) return s;
  auto last = state->LastRun(true);
  if (!last.ok()) return last.status();
  if (*last && (*last)->as_of > as_of)
    return Status::FailedPrecondition(fmt::format("clock guard: the last run (#{}) was as of {}, after {}; refusing to "
                                                  "run backwards", (*last)->id, (*last)->as_of.ToString(), as_of.ToString()));
  if (o.approved) {
    if (o.approved->policy_hash != policies.hash || o.approved->config_hash != deployment.hash)
      return Status::FailedPrecondition("the approved plan was made with other policies or another configuration: "
                                        "make and approve a new plan");
  }
  auto run_id = state->BeginRun(as_of, policies.hash, deployment.hash, "running");
  if (!run_id.ok()) return run_id.status();
  out.run_id = *run_id;

  // The same plan as a dry-run, to check the guards.
  exec.on_record = nullptr;
  auto dry = Execute(deployment, policies, stores, exec);
  if (!dry.ok()) {
    state->EndRun(out.run_id, "failed", "{}");
    return dry.status();
  }
  ApplyGuards(*dry, deployment, o, &exec, &out.guard_tripped);

  exec.apply = true;
  exec.on_record = o.on_record;
  exec.run_id = fmt::format("run-{}", out.run_id);
  exec.key_digest = [state](const std::string& key) { return state->Digest(key); };
  exec.before_batch = [state] { return state->BeginBatch(); };
  exec.abort_batch = [state] { state->AbortBatch(); };
  std::string policy_hash = policies.hash;
  int64_t id = out.run_id;
  exec.on_batch = [state, id, policy_hash](const AppliedBatch& batch) {
    if (!batch.keys.empty())
      if (Status s = state->AppendAudit(id, batch, policy_hash); !s.ok()) {
        state->AbortBatch();
        return s;
      }
    return state->CommitBatch();
  };
  auto applied = Execute(deployment, policies, stores, exec);
  if (!applied.ok()) {
    state->EndRun(out.run_id, "failed", "{}");
    return applied.status();
  }
  out.plan = std::move(*applied);
  std::string status = out.guard_tripped ? "guarded" : "done";
  std::string dir = o.certificate_dir.empty()
                        ? (fs::path(deployment.state_path).parent_path() / "certificates").string()
                        : o.certificate_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  out.certificate_json = (fs::path(dir) / fmt::format("run-{}.json", out.run_id)).string();
  out.certificate_text = (fs::path(dir) / fmt::format("run-{}.txt", out.run_id)).string();
  if (Status s = WriteCertificate(out, deployment, *state, out.certificate_json, out.certificate_text, status); !s.ok())
    return s;
  // The run records the chain's length and head: removing entries at the end of the
  // chain (which the chain alone cannot show) is then detected too.
  auto verification = state->VerifyAudit();
  if (!verification.ok()) return verification.status();
  ordered_json counts;
  counts["bindings"] = CountsJson(out.plan);
  counts["audit_entries"] = verification->entries;
  counts["audit_head"] = verification->head;
  if (Status s = state->EndRun(out.run_id, status, counts.dump()); !s.ok()) return s;
  return out;
}

std::string PlanToJson(const Plan& plan) {
  ordered_json j;
  j["as_of"] = plan.as_of.ToString();
  j["policy_set"] = plan.policy_hash;
  j["configuration"] = plan.config_hash;
  j["full_scan"] = plan.full_scan;
  ordered_json bindings = ordered_json::array();
  for (const auto& b : plan.bindings) {
    ordered_json x;
    x["binding"] = b.binding;
    x["rule"] = b.rule_id;
    x["store"] = b.store;
    x["table"] = b.table;
    if (b.manual) {
      x["manual"] = b.manual_reason;
      bindings.push_back(x);
      continue;
    }
    x["rows"] = b.total_rows;
    x["scanned"] = b.scanned;
    if (!b.predicate.empty()) x["predicate"] = b.predicate;
    ordered_json due = ordered_json::object();
    for (const auto& [p, s] : b.due) due[PhaseName(p)] = {{"count", s.count}, {"sample_keys", s.sample_keys}};
    x["due"] = due;
    x["scheduled"] = b.scheduled;
    x["held"] = {{"count", b.held.count}, {"sample_keys", b.held.sample_keys}};
    x["operator_held"] = {{"count", b.operator_held.count}, {"sample_keys", b.operator_held.sample_keys}};
    x["missing_facts"] = b.missing;
    x["assumptions"] = b.assumptions;
    x["due_relying_on_assumptions"] = b.assumed;
    x["no_case"] = b.no_case;
    if (!b.errors.empty()) x["errors"] = b.errors;
    if (!b.applied.empty()) {
      ordered_json a = ordered_json::object();
      for (const auto& [p, n] : b.applied) a[PhaseName(p)] = n;
      x["applied"] = a;
      x["skipped_at_apply"] = b.skipped_at_apply;
    }
    if (!b.guard.empty()) x["guard"] = b.guard;
    bindings.push_back(x);
  }
  j["bindings"] = bindings;
  ordered_json manual = ordered_json::array();
  for (const Rule* r : plan.manual_rules) manual.push_back({{"rule", r->id}, {"reason", r->manual_reason}});
  j["manual_rules"] = manual;
  // Keys come from the stores (file names, text columns): invalid UTF-8 is replaced, never thrown on.
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

namespace {

Result<ApprovedPlan> ParseApprovedPlanFields(const nlohmann::json& j) {
  if (!j.contains("bindings") || !j["bindings"].is_array())
    return Status::InvalidArgument("not a plan saved by `retention plan --save`");
  ApprovedPlan p;
  auto as_of = Date::Parse(j.value("as_of", ""));
  if (!as_of) return Status::InvalidArgument("the plan has no valid as_of");
  p.as_of = *as_of;
  p.policy_hash = j.value("policy_set", "");
  p.config_hash = j.value("configuration", "");
  for (const auto& b : j["bindings"]) {
    if (!b.contains("due")) continue;
    for (const auto& [action, v] : b["due"].items())
      if (auto phase = PhaseFromName(action)) {
        if (!v.at("count").is_number_unsigned())
          return Status::InvalidArgument("not a plan saved by `retention plan --save`: a count is not a whole number");
        p.counts[b.value("binding", "")][*phase] = v.at("count").get<int64_t>();
      }
  }
  return p;
}

}  // namespace

// A plan file is outside input: any field of the wrong type is refused with a message
// (checked JSON access: nlohmann's type errors stop here, at the edge).
Result<ApprovedPlan> ParseApprovedPlan(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("not a plan saved by `retention plan --save`");
  try {
    return ParseApprovedPlanFields(j);
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidArgument("not a plan saved by `retention plan --save`: a field has the wrong type");
  }
}

namespace {

// A store's text (a key, a file name) on one line: control characters escaped (\n, \t,
// \xNN), so that a file name cannot add lines to the plan.
std::string OneLine(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out;
}

std::string OneLine(const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  for (const auto& t : texts) out.push_back(OneLine(t));
  return fmt::format("{}", fmt::join(out, ", "));
}

}  // namespace

std::string PlanToText(const Plan& plan) {
  std::string out = fmt::format("Plan as of {}  (policies {}, configuration {})\n\n", plan.as_of.ToString(),
                                plan.policy_hash.substr(0, 19), plan.config_hash.substr(0, 19));
  out += fmt::format("{:<30} {:<28} {:>9} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8}\n", "binding", "rule", "rows", "archive",
                     "pseudo", "delete", "held", "op.hd", "missing");
  for (const auto& b : plan.bindings) {
    if (b.manual) {
      out += fmt::format("{:<30} {:<28} manual: {}\n", b.binding, b.rule_id, b.manual_reason);
      continue;
    }
    auto due = [&](Phase p) {
      auto it = b.due.find(p);
      return it == b.due.end() ? int64_t{0} : it->second.count;
    };
    int64_t missing = 0;
    for (const auto& [f, n] : b.missing) missing += n;
    out += fmt::format("{:<30} {:<28} {:>9} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8}\n", b.binding, b.rule_id, b.total_rows,
                       due(Phase::kArchive), due(Phase::kPseudonymise), due(Phase::kDelete), b.held.count,
                       b.operator_held.count, missing);
    for (const auto& [p, s] : b.due)
      if (!s.sample_keys.empty())
        out += fmt::format("    {} e.g. keys {}\n", PhaseName(p), OneLine(s.sample_keys));
    for (const auto& [f, n] : b.missing) out += fmt::format("    missing {}: {} records\n", f, n);
    if (!b.assumptions.empty()) {
      std::vector<std::string> relied;
      for (const auto& [a, n] : b.assumed) relied.push_back(fmt::format("{} by {}", a, n));
      out += fmt::format("    assumes {} (relied on: {})\n", fmt::join(b.assumptions, ", "),
                         relied.empty() ? std::string("by no due record") : fmt::format("{}", fmt::join(relied, ", ")));
    }
    if (!b.applied.empty()) {
      std::vector<std::string> parts;
      for (const auto& [p, n] : b.applied) parts.push_back(fmt::format("{} {}", PhaseName(p), n));
      out += fmt::format("    applied: {}; skipped at apply: {}\n", fmt::join(parts, ", "), b.skipped_at_apply);
    }
    if (!b.guard.empty()) out += fmt::format("    GUARD: {}\n", b.guard);
    for (const auto& e : b.errors) out += fmt::format("    skipped {}\n", OneLine(e));
  }
  if (!plan.manual_rules.empty()) {
    out += "\nManual rules of these fiches (never acted on; a person decides):\n";
    for (const Rule* r : plan.manual_rules) out += fmt::format("  {:<28} {}\n", r->id, r->manual_reason);
  }
  return out;
}

}  // namespace retention
