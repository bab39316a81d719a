#include "retention/run.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "run/approval.h"
#include "run/certificate_writer.h"
#include "retention/recover.h"

namespace retention {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

// Bindings whose due count exceeds their guard are blocked, unless an approved plan
// covers them (then it bounds them) or --allow-mass overrides them (recorded).
void ApplyGuards(const Plan& dry, const Deployment& d, const RunOptions& o, ExecuteOptions* exec, bool* tripped,
                 ordered_json* overridden) {
  for (const auto& bp : dry.bindings) {
    const Binding* b = d.FindBinding(bp.binding);
    if (!b || bp.manual) continue;
    if (o.approved) {
      auto& limits = exec->limits[bp.binding];
      if (auto it = o.approved->sets.find(bp.binding); it != o.approved->sets.end())
        for (const auto& [action, set] : it->second) limits[action] = set.count;
      continue;
    }
    std::string why = GuardReason(bp, *b);
    if (why.empty()) continue;
    if (o.allow_mass) {
      (*overridden)[bp.binding] = why;
      continue;
    }
    exec->blocked[bp.binding] = why + ": skipped (review with `retention plan --save`, then run --approved, or --allow-mass)";
    *tripped = true;
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

// A plan; with an approval key, also the plan to save for approval (the digests of
// exactly the records it counts as due).
Result<RunOutcome> MakePlan(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                            const RunOptions& o, ExecuteOptions exec, Date today) {
  RunOutcome out;
  internal::DueDigests due;
  if (!o.approval_key.empty()) {
    if (o.approval_days < 1 || o.approval_days > 365)
      return Status::InvalidArgument("an approved plan expires after 1 to 365 days");
    const HoldChecker* holds = exec.holds;
    auto user = exec.on_record;
    exec.on_record = [&, holds, user](const Binding& b, const RawRecord& r, const Evaluation& e, std::optional<Phase> a) {
      if (user) user(b, r, e, a);
      if (!a || (holds && holds->Held(b, r.key, r.subject))) return;
      due[b.name][*a].push_back(internal::HmacSha256Hex(o.approval_key, r.key));
    };
  }
  auto plan = Execute(deployment, policies, stores, exec);
  if (!plan.ok()) return plan.status();
  out.plan = std::move(*plan);
  if (o.approval_key.empty()) return out;
  for (const auto& b : out.plan.bindings)
    for (const auto& [action, summary] : b.due)
      if (static_cast<int64_t>(due[b.binding][action].size()) != summary.count)
        return Status::Internal(fmt::format("binding {}: the approval lists {} {} records, the plan counts {}", b.binding,
                                            due[b.binding][action].size(), PhaseName(action), summary.count));
  out.approval_json = internal::ApprovalJson(out.plan, due, o.approval_key, today, o.approval_days);
  return out;
}

// Every refusal of a run, before anything changes (the caller holds the run lock).
Status CheckRun(const Deployment& deployment, const PolicySet& policies, const StateDb& state, const RunOptions& o,
                Date today, Date as_of) {
  auto last = state.LastRun(true);
  if (!last.ok()) return last.status();
  if (*last && (*last)->as_of > as_of)
    return Status::FailedPrecondition(fmt::format("clock guard: the last run (#{}) was as of {}, after {}; refusing to "
                                                  "run backwards", (*last)->id, (*last)->as_of.ToString(), as_of.ToString()));
  auto verification = state.VerifyAudit();
  if (!verification.ok()) return verification.status();
  if (!verification->ok)
    return Status::FailedPrecondition(fmt::format("the audit chain does not verify (at {}: {}); nothing was changed: "
                                                  "see `retention audit verify`", verification->first_bad_id,
                                                  verification->problem));
  if (o.approved)
    return internal::CheckApproval(*o.approved, state, policies.hash, deployment.hash, today, as_of);
  return Status::Ok();
}

// What the certificate and the chain say about how the run was allowed.
struct RunProof {
  std::string approval, allow_mass, assumptions;
};

// Per binding, the facts assumed (`assume:`) and how many due records relied on them.
std::string AssumptionsDetail(const Plan& dry) {
  ordered_json bindings = ordered_json::object(), relied = ordered_json::object();
  for (const auto& b : dry.bindings) {
    if (b.assumptions.empty()) continue;
    bindings[b.binding] = b.assumptions;
    relied[b.binding] = b.assumed;
  }
  if (bindings.empty()) return "";
  return ordered_json{{"bindings", bindings}, {"due_relying_on", relied}}.dump();
}

Status RecordProof(StateDb* state, int64_t run_id, const RunOptions& o, const Plan& dry, const ordered_json& overridden,
                   RunProof* proof) {
  proof->assumptions = AssumptionsDetail(dry);
  if (!proof->assumptions.empty())
    if (Status s = state->Record(run_id, audit_kind::kAssumptions, "", proof->assumptions); !s.ok()) return s;
  if (o.approved) {
    proof->approval = internal::ApprovalDetail(*o.approved);
    if (Status s = state->Record(run_id, audit_kind::kApproval, "", proof->approval); !s.ok()) return s;
  }
  if (o.allow_mass) {
    proof->allow_mass = ordered_json{{"overridden", overridden}}.dump();
    if (Status s = state->Record(run_id, audit_kind::kAllowMass, "", proof->allow_mass); !s.ok()) return s;
  }
  return Status::Ok();
}

// The apply pass: batches audited in the state database's transaction.
void PrepareApply(StateDb* state, int64_t run_id, const std::string& policy_hash, const RunOptions& o,
                  ExecuteOptions* exec) {
  exec->apply = true;
  exec->on_record = o.on_record;
  exec->run_id = fmt::format("run-{}", run_id);
  exec->key_digest = [state](const std::string& key) { return state->Digest(key); };
  exec->before_batch = [state] { return state->BeginBatch(); };
  exec->abort_batch = [state] { state->AbortBatch(); };
  exec->on_batch = [state, run_id, policy_hash](const AppliedBatch& batch) {
    if (!batch.keys.empty())
      if (Status s = state->AppendAudit(run_id, batch, policy_hash); !s.ok()) {
        state->AbortBatch();
        return s;
      }
    return state->CommitBatch();
  };
  if (o.approved) {
    const auto* sets = &o.approved->sets;
    exec->approved = [state, sets](const Binding& b, Phase action, const std::string& key) {
      auto binding = sets->find(b.name);
      if (binding == sets->end()) return false;
      auto set = binding->second.find(action);
      return set != binding->second.end() && set->second.key_digests.count(state->Digest(key)) > 0;
    };
  }
}

Status Finish(const Deployment& deployment, StateDb* state, const RunOptions& o, const RunProof& proof,
              RunOutcome* out) {
  out->incomplete = std::any_of(out->plan.bindings.begin(), out->plan.bindings.end(),
                                [](const BindingPlan& b) { return b.Incomplete(); });
  std::string status = out->guard_tripped ? "guarded" : out->incomplete ? "incomplete" : "done";
  ordered_json counts;
  counts["bindings"] = CountsJson(out->plan);
  if (Status s = state->EndRun(out->run_id, status, counts.dump()); !s.ok()) return s;
  std::string dir = o.certificate_dir.empty()
                        ? (fs::path(deployment.state_path).parent_path() / "certificates").string()
                        : o.certificate_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  out->certificate_json = (fs::path(dir) / fmt::format("run-{}.json", out->run_id)).string();
  out->certificate_text = (fs::path(dir) / fmt::format("run-{}.txt", out->run_id)).string();
  internal::CertificateInput in{out, &deployment, state, status, proof.approval, proof.allow_mass, proof.assumptions};
  return internal::WriteCertificate(in, out->certificate_json, out->certificate_text);
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
  if (!o.apply) return MakePlan(deployment, policies, stores, o, exec, today);

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
  RunOutcome out;
  // Batches an interrupted run changed but never recorded are recorded first; then the
  // whole chain, recovered entries included, must verify.
  if (Status s = RecoverJournals(deployment, policies, stores, state, &out); !s.ok()) return s;
  if (Status s = CheckRun(deployment, policies, *state, o, today, as_of); !s.ok()) return s;
  auto run_id = state->BeginRun(as_of, policies.hash, deployment.hash, "running");
  if (!run_id.ok()) return run_id.status();
  out.run_id = *run_id;
  auto fail = [&](Status s) {
    state->EndRun(out.run_id, "failed", "{}");
    return s;
  };

  // The same plan as a dry-run, to check the guards.
  exec.on_record = nullptr;
  auto dry = Execute(deployment, policies, stores, exec);
  if (!dry.ok()) return fail(dry.status());
  ordered_json overridden = ordered_json::object();
  ApplyGuards(*dry, deployment, o, &exec, &out.guard_tripped, &overridden);
  RunProof proof;
  if (Status s = RecordProof(state, out.run_id, o, *dry, overridden, &proof); !s.ok()) return fail(s);

  PrepareApply(state, out.run_id, policies.hash, o, &exec);
  auto applied = Execute(deployment, policies, stores, exec);
  if (!applied.ok()) return fail(applied.status());
  out.plan = std::move(*applied);
  if (Status s = Finish(deployment, state, o, proof, &out); !s.ok()) return s;
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
    // A fast plan reads only the records due: what is scheduled, held by data, missing
    // a fact or in no case was not computed (null, never 0).
    bool all = plan.full_scan;
    x["scheduled"] = all ? ordered_json(b.scheduled) : ordered_json(nullptr);
    x["held"] = all ? ordered_json{{"count", b.held.count}, {"sample_keys", b.held.sample_keys}} : ordered_json(nullptr);
    x["operator_held"] = {{"count", b.operator_held.count}, {"sample_keys", b.operator_held.sample_keys}};
    x["missing_facts"] = all ? ordered_json(b.missing) : ordered_json(nullptr);
    x["assumptions"] = b.assumptions;
    x["due_relying_on_assumptions"] = b.assumed;
    x["no_case"] = all ? ordered_json(b.no_case) : ordered_json(nullptr);
    x["invalid_facts"] = b.invalid_facts;
    if (!b.errors.empty()) x["errors"] = b.errors;
    if (!b.applied.empty()) {
      ordered_json a = ordered_json::object();
      for (const auto& [p, n] : b.applied) a[PhaseName(p)] = n;
      x["applied"] = a;
      x["skipped_at_apply"] = b.skipped_at_apply;
    }
    if (b.not_approved) x["not_approved"] = b.not_approved;
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
    auto computed = [&](int64_t n) { return plan.full_scan ? std::to_string(n) : std::string("n/c"); };
    out += fmt::format("{:<30} {:<28} {:>9} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8}\n", b.binding, b.rule_id, b.total_rows,
                       due(Phase::kArchive), due(Phase::kPseudonymise), due(Phase::kDelete), computed(b.held.count),
                       b.operator_held.count, computed(missing));
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
    if (b.not_approved)
      out += fmt::format("    not in the approved plan: {} records, left as they are\n", b.not_approved);
    if (b.invalid_facts > 0)
      out += fmt::format("    invalid_fact: {} records kept (a stored value is not a valid fact; first ones below)\n",
                         b.invalid_facts);
    for (const auto& e : b.errors) out += fmt::format("    skipped {}\n", OneLine(e));
  }
  if (!plan.full_scan)
    out += "\nn/c: not computed. A fast plan reads only the records due, so held (by data) and missing facts\n"
           "were not counted; op.hd counts the due records an operator hold keeps. For them, run\n"
           "`retention plan` without --fast, or `retention report`.\n";
  if (!plan.manual_rules.empty()) {
    out += "\nManual rules of these fiches (never acted on; a person decides):\n";
    for (const Rule* r : plan.manual_rules) out += fmt::format("  {:<28} {}\n", r->id, r->manual_reason);
  }
  return out;
}

}  // namespace retention
