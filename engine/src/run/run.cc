#include "retention/run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "run/approval.h"
#include "run/certificate_writer.h"
#include "run/one_line.h"
#include "run/policy_lock.h"
#include "retention/policy_change.h"
#include "retention/recover.h"

namespace retention {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

// What every step of a plan or run reads.
struct RunContext {
  const Deployment& deployment;
  const PolicySet& policies;
  const Stores& stores;
  StateDb* state;  // null for a plan without a state database
  const RunOptions& o;
  Date today, as_of;
  // A lease-sharded run verifies the chain once, before its first claim: a verification
  // per binding would hold each lease for a time that grows with the history.
  bool chain_verified = false;
};

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
Result<RunOutcome> MakePlan(const RunContext& c, ExecuteOptions exec) {
  const RunOptions& o = c.o;
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
  auto plan = Execute(c.deployment, c.policies, c.stores, exec);
  if (!plan.ok()) return plan.status();
  out.plan = std::move(*plan);
  if (c.state) {  // the version this plan used, and the locks it would break
    if (Status s = c.state->RecordPolicyVersion(c.policies, true); !s.ok()) return s;
    auto findings = internal::CheckPolicyLocks(c.deployment, c.policies, c.stores, *c.state, c.as_of, exec.holds);
    if (!findings.ok()) return findings.status();
    out.lock_findings = std::move(*findings);
  }
  if (o.approval_key.empty()) return out;
  for (const auto& b : out.plan.bindings)
    for (const auto& [action, summary] : b.due)
      if (static_cast<int64_t>(due[b.binding][action].size()) != summary.count)
        return Status::Internal(fmt::format("binding {}: the approval lists {} {} records, the plan counts {}", b.binding,
                                            due[b.binding][action].size(), PhaseName(action), summary.count));
  out.approval_json = internal::ApprovalJson(out.plan, due, o.approval_key, c.today, o.approval_days);
  return out;
}

// Every refusal of a run, before anything changes (the caller holds the run lock).
Status CheckRun(const Deployment& deployment, const PolicySet& policies, const StateDb& state, const RunOptions& o,
                Date today, Date as_of, bool chain_verified = false) {
  auto last = state.LastRun(true);
  if (!last.ok()) return last.status();
  if (*last && (*last)->as_of > as_of)
    return Status::FailedPrecondition(fmt::format("clock guard: the last run (#{}) was as of {}, after {}; refusing to "
                                                  "run backwards", (*last)->id, (*last)->as_of.ToString(), as_of.ToString()));
  if (!chain_verified) {
    auto verification = state.VerifyAudit(ChainScope::kSinceVerified);
    if (!verification.ok()) return verification.status();
    if (!verification->ok)
      return Status::FailedPrecondition(fmt::format("the audit chain does not verify (at {}: {}); nothing was "
                                                    "changed: see `retention audit verify`",
                                                    verification->first_bad_id, verification->problem));
  }
  if (o.approved)
    return internal::CheckApproval(*o.approved, state, policies.hash, deployment.hash, today, as_of);
  return Status::Ok();
}

// What the certificate and the chain say about how the run was allowed.
struct RunProof {
  std::string approval, allow_mass, assumptions, lock_overrides;
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
  return ordered_json{{"bindings", bindings}, {"due_relying_on", relied}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status RecordProof(StateDb* state, int64_t run_id, const RunOptions& o, const Plan& dry, const ordered_json& overridden,
                   RunProof* proof) {
  if (!proof->lock_overrides.empty())
    if (Status s = state->Record(run_id, audit_kind::kLockOverride, "", proof->lock_overrides); !s.ok()) return s;
  proof->assumptions = AssumptionsDetail(dry);
  if (!proof->assumptions.empty())
    if (Status s = state->Record(run_id, audit_kind::kAssumptions, "", proof->assumptions); !s.ok()) return s;
  if (o.approved) {
    proof->approval = internal::ApprovalDetail(*o.approved);
    if (Status s = state->Record(run_id, audit_kind::kApproval, "", proof->approval); !s.ok()) return s;
  }
  if (o.allow_mass) {
    proof->allow_mass = ordered_json{{"overridden", overridden}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (Status s = state->Record(run_id, audit_kind::kAllowMass, "", proof->allow_mass); !s.ok()) return s;
  }
  return Status::Ok();
}

// The apply pass: batches audited in the state database's transaction.
void PrepareApply(StateDb* state, int64_t run_id, const std::string& policy_hash, const RunOptions& o,
                  ExecuteOptions* exec, bool* stopped) {
  exec->apply = true;
  exec->on_record = o.on_record;
  exec->run_id = fmt::format("run-{}", run_id);
  exec->key_digest = [state](const std::string& key) { return state->Digest(key); };
  exec->before_batch = [state, stop = o.stop, stopped] {
    if (stop && stop()) {
      *stopped = true;
      return Status::FailedPrecondition("stopped before the next batch");
    }
    Status s = state->BeginBatch();
    if (!s.ok() && state->LeaseLost()) *stopped = true;  // another instance has the binding now
    return s;
  };
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
  out->status = status;
  ordered_json counts;
  counts["bindings"] = CountsJson(out->plan);
  if (!out->unavailable_stores.empty()) {
    ordered_json down = ordered_json::array();
    for (const auto& [store, why] : out->unavailable_stores) down.push_back(store);
    counts["unavailable_stores"] = down;
  }
  if (Status s = state->EndRun(out->run_id, status, counts.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)); !s.ok()) return s;
  std::string dir = o.certificate_dir.empty()
                        ? deployment.CertificatesDir()
                        : o.certificate_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  out->certificate_json = (fs::path(dir) / fmt::format("run-{}.json", out->run_id)).string();
  out->certificate_text = (fs::path(dir) / fmt::format("run-{}.txt", out->run_id)).string();
  internal::CertificateInput in{out, &deployment, state, status, proof.approval, proof.allow_mass, proof.assumptions,
                                proof.lock_overrides};
  return internal::WriteCertificate(in, out->certificate_json, out->certificate_text);
}

// Before anything else, the batches an interrupted run changed but never recorded.
Status RecoverJournals(const Deployment& d, const PolicySet& policies, const Stores& stores, StateDb* state,
                       const std::function<bool(const std::string&)>& mine, RunOutcome* out) {
  auto recovery = RecoverInterruptedBatches(d, stores, state, policies.hash, mine);
  if (!recovery.ok()) return recovery.status();
  out->recovered_batches = recovery->recorded;
  out->recovered_records = recovery->records;
  return Status::Ok();
}

// What a plan and a run share: the as-of date, the bindings, holds, progress and keys.
ExecuteOptions BaseExecuteOptions(const RunContext& c) {
  ExecuteOptions exec;
  exec.as_of = c.as_of;
  exec.only_bindings = c.o.only_bindings;
  exec.full_scan = c.o.full_scan && !c.o.apply;
  exec.holds = c.state ? &c.state->holds() : nullptr;
  exec.progress = c.o.progress;
  exec.pseudonymise_keys = c.o.pseudonymise_keys;
  exec.on_record = c.o.on_record;
  exec.derivation = c.o.derivation;
  return exec;
}

// Whether `only` (ExecuteOptions::only_bindings) selects the binding, as Execute does.
bool Selected(const std::vector<std::string>& only, const std::string& name) {
  auto has = [&](const std::string& n) { return std::find(only.begin(), only.end(), n) != only.end(); };
  return only.empty() || has(name) || has(name.substr(0, name.find('@')));
}

// With stores unavailable, only the bindings whose stores are open are planned or run;
// when none is left, nothing is (Status::Unavailable).
Status RestrictToAvailable(const Deployment& d, const Stores& stores, ExecuteOptions* exec) {
  if (stores.unavailable().empty()) return Status::Ok();
  std::vector<std::string> names, down;
  for (const auto& b : d.bindings)
    if (Selected(exec->only_bindings, b.name) && stores.Available(b)) names.push_back(b.name);
  for (const auto& [store, why] : stores.unavailable()) down.push_back(fmt::format("{} ({})", store, why));
  if (names.empty())
    return Status::Unavailable(fmt::format("no binding can be planned or run: store(s) unavailable: {}",
                                           fmt::join(down, "; ")));
  exec->only_bindings = std::move(names);
  return Status::Ok();
}

// A run dated in the future is refused (plans may forecast).
Status CheckRunDate(const RunContext& c) {
  if (!c.state) return Status::InvalidArgument("a run needs the state database");
  if (c.as_of <= c.today) return Status::Ok();
  return Status::FailedPrecondition(fmt::format("a run cannot be dated in the future ({} is after today, {}); use "
                                                "`retention plan --as-of` for forecasts", c.as_of.ToString(),
                                                c.today.ToString()));
}

// The dry-run a run makes first, and the guards it trips; records how the run was allowed.
// The dry-run counts in the stores where it can (ExecuteOptions::count_in_store): the
// guards need the due counts, not the rows, which the apply pass reads once.
Status PlanAndGuard(const RunContext& c, ExecuteOptions* exec, RunOutcome* out, RunProof* proof) {
  exec->on_record = nullptr;
  exec->count_missing = false;
  auto dry = Execute(c.deployment, c.policies, c.stores, *exec);
  if (!dry.ok()) return dry.status();
  ordered_json overridden = ordered_json::object();
  ApplyGuards(*dry, c.deployment, c.o, exec, &out->guard_tripped, &overridden);
  return RecordProof(c.state, out->run_id, c.o, *dry, overridden, proof);
}

struct Unlock {
  StateDb* s;
  ~Unlock() { s->Unlock(); }
};

// A run, under the run lock: interrupted batches recorded first (`mine`: only those of
// the leased binding), every refusal, then the run's dry-run and guards, the apply pass
// and the certificate.
Result<RunOutcome> RunUnderLock(const RunContext& c, ExecuteOptions exec,
                                const std::function<bool(const std::string&)>& mine = nullptr) {
  RunOutcome out;
  if (Status s = RecoverJournals(c.deployment, c.policies, c.stores, c.state, mine, &out); !s.ok()) return s;
  if (Status s = CheckRun(c.deployment, c.policies, *c.state, c.o, c.today, c.as_of, c.chain_verified); !s.ok())
    return s;
  auto findings = internal::CheckPolicyLocks(c.deployment, c.policies, c.stores, *c.state, c.as_of, exec.holds);
  if (!findings.ok()) return findings.status();
  if (Status s = internal::RefuseLocked(*findings); !s.ok()) return s;
  out.lock_findings = std::move(*findings);
  if (Status s = c.state->RecordPolicyVersion(c.policies, false); !s.ok()) return s;
  auto run_id = c.state->BeginRun(c.as_of, c.policies.hash, c.deployment.hash, "running", PolicyVersionId(c.policies));
  if (!run_id.ok()) return run_id.status();
  out.run_id = *run_id;
  RunProof proof;
  proof.lock_overrides = internal::OverridesDetail(out.lock_findings);
  bool stopped = false;
  Status s = PlanAndGuard(c, &exec, &out, &proof);
  if (s.ok()) {
    PrepareApply(c.state, out.run_id, c.policies.hash, c.o, &exec, &stopped);
    auto applied = Execute(c.deployment, c.policies, c.stores, exec);
    if (applied.ok()) out.plan = std::move(*applied);
    s = applied.status();
  }
  if (s.ok()) {
    out.unavailable_stores = c.stores.unavailable();
    if (Status f = Finish(c.deployment, c.state, c.o, proof, &out); !f.ok()) return f;
    return out;
  }
  // Stopped between batches (RunOptions::stop): every applied batch is audited; the
  // next run goes on from there.
  out.interrupted = stopped;
  out.status = stopped ? "interrupted" : "failed";
  c.state->EndRun(out.run_id, out.status, "{}");
  if (stopped) return out;
  return s;
}

Result<RunOutcome> RunLocked(const RunContext& c, ExecuteOptions exec) {
  if (Status s = CheckRunDate(c); !s.ok()) return s;
  if (Status s = c.state->LockForRun(); !s.ok()) return s;
  Unlock unlock{c.state};
  return RunUnderLock(c, std::move(exec));
}

// Whether this run divides the bindings with other instances by lease: a shared state
// database with lease_seconds, and a run over every binding (a run given --binding or
// an approved plan runs alone, under the exclusive lock).
bool Leased(const RunContext& c) {
  return c.state->Shared() && c.deployment.lease_seconds > 0 && c.o.only_bindings.empty() && !c.o.approved;
}

// This process among the instances: host, process id and a random part.
std::string InstanceName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  auto now = std::chrono::system_clock::now().time_since_epoch().count();
  std::string tail = internal::Sha256Hex(fmt::format("{}:{}:{}", host, static_cast<long>(getpid()), now)).substr(0, 12);
  return fmt::format("{}:{}:{}", host, static_cast<long>(getpid()), tail);
}

// A lease-sharded run: binding after binding, each claimed on the work table, run as
// its own run (recovery of its journaled batches, refusals, dry-run and guards, apply,
// certificate) and given back, done or not. The lease is renewed before each batch and
// between scanned records; a lost lease stops the binding there (interrupted). The
// outcome gathers the bindings this instance ran.
Result<RunOutcome> RunLeased(const RunContext& c, const ExecuteOptions& base) {
  if (Status s = CheckRunDate(c); !s.ok()) return s;
  if (Status s = c.state->LockForRun(/*shared=*/true); !s.ok()) return s;
  Unlock unlock{c.state};
  if (Status s = CheckRun(c.deployment, c.policies, *c.state, c.o, c.today, c.as_of); !s.ok()) return s;
  const int seconds = c.deployment.lease_seconds;
  const std::string owner = InstanceName();
  // A lease is named by the binding and its store and table, so that two deployments
  // sharing a state schema by mistake never mark each other's bindings done.
  std::vector<std::string> open;
  std::map<std::string, std::string> name_of;  // lease → binding
  for (const auto& b : c.deployment.bindings) {
    if (!Selected(base.only_bindings, b.name)) continue;
    const Binding* named = c.deployment.FindBinding(b.name.substr(0, b.name.find('@')));
    if (!named) named = &b;
    std::string lease = fmt::format("{} ({}: {})", named->name, named->store, named->table);
    if (name_of.emplace(lease, named->name).second) open.push_back(lease);
  }
  RunOutcome total;
  total.status = "done";
  total.by_lease = true;
  while (!open.empty()) {
    auto claimed = c.state->ClaimBinding(open, c.as_of, owner, seconds);
    if (!claimed.ok()) return claimed.status();
    if (!*claimed) break;
    const std::string lease = **claimed;
    open.erase(std::find(open.begin(), open.end(), lease));
    const std::string binding = name_of.at(lease);
    bool lost = false;
    auto renewed = std::chrono::steady_clock::now();
    auto renew = [&]() {
      auto now = std::chrono::steady_clock::now();
      if (lost || now - renewed < std::chrono::milliseconds(seconds * 1000 / 3)) return lost;
      auto kept = c.state->RenewLease(lease, owner, seconds);
      lost = !kept.ok() || !*kept;
      renewed = now;
      return lost;
    };
    RunOptions o = c.o;
    o.only_bindings = {binding};
    o.stop = [&, outer = c.o.stop]() { return renew() || (outer && outer()); };
    RunContext one{c.deployment, c.policies, c.stores, c.state, o, c.today, c.as_of, /*chain_verified=*/true};
    ExecuteOptions exec = base;
    exec.only_bindings = {binding};
    exec.progress = [&, outer = base.progress](const Progress& p) {
      renew();
      if (outer) outer(p);
    };
    auto mine = [&](const std::string& journaled) { return journaled.substr(0, journaled.find('@')) == binding; };
    c.state->FenceBatches(lease, owner, seconds);
    auto r = RunUnderLock(one, exec, mine);
    lost |= c.state->LeaseLost();
    c.state->FenceBatches("", "", 0);
    bool done = r.ok() && r->status == "done" && !lost;
    Status released = c.state->ReleaseLease(lease, owner, c.as_of, done, r.ok() ? r->run_id : 0);
    if (!r.ok()) return r.status();
    if (!released.ok()) return released;
    total.leased.push_back({binding, r->run_id, r->status, r->certificate_text, lost});
    for (auto& b : r->plan.bindings) total.plan.bindings.push_back(std::move(b));
    total.run_id = r->run_id;
    total.certificate_json = r->certificate_json;
    total.certificate_text = r->certificate_text;
    total.guard_tripped |= r->guard_tripped;
    total.incomplete |= r->incomplete;
    total.recovered_batches += r->recovered_batches;
    total.recovered_records += r->recovered_records;
    for (auto& f : r->lock_findings) total.lock_findings.push_back(std::move(f));
    if (r->status != "done") total.status = r->status;
    if (r->interrupted) {
      total.interrupted = !lost || (c.o.stop && c.o.stop());
      if (total.interrupted) break;  // a signal or the run window: the other bindings wait for the next run
    }
  }
  total.plan.as_of = c.as_of;
  total.plan.policy_hash = c.policies.hash;
  total.plan.config_hash = c.deployment.hash;
  return total;
}

}  // namespace

Result<RunOutcome> PlanOrRun(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                             StateDb* state, const RunOptions& o) {
  RunContext ctx{deployment, policies, stores, state, o, o.clock->Today(), {}};
  ctx.as_of = o.as_of.value_or(ctx.today);
  if (state)
    if (Status s = state->ReloadHolds(); !s.ok()) return s;
  ExecuteOptions exec = BaseExecuteOptions(ctx);
  std::map<std::string, std::string> unavailable = stores.unavailable();
  if (Status s = RestrictToAvailable(deployment, stores, &exec); !s.ok()) return s;
  Result<RunOutcome> out = !o.apply          ? MakePlan(ctx, std::move(exec))
                           : Leased(ctx) ? RunLeased(ctx, exec)
                                         : RunLocked(ctx, std::move(exec));
  if (out.ok()) out->unavailable_stores = std::move(unavailable);
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
    // A fast plan reads (or counts in the store) only the records that can be due: what
    // is scheduled, held by data or in no case was not computed (null, never 0), nor
    // missing facts unless the store counted them (counted_in_store).
    bool all = plan.full_scan;
    x["scheduled"] = all ? ordered_json(b.scheduled) : ordered_json(nullptr);
    x["held"] = all ? ordered_json{{"count", b.held.count}, {"sample_keys", b.held.sample_keys}} : ordered_json(nullptr);
    x["operator_held"] = {{"count", b.operator_held.count}, {"sample_keys", b.operator_held.sample_keys}};
    x["missing_facts"] = b.missing_counted ? ordered_json(b.missing) : ordered_json(nullptr);
    if (b.counted_in_store) x["counted_in_store"] = true;
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
      if (b.parts_dropped) x["parts_dropped"] = b.parts_dropped;
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

namespace internal {

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

}  // namespace internal

using internal::OneLine;

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
    auto computed = [&](int64_t n, bool counted) { return counted ? std::to_string(n) : std::string("n/c"); };
    out += fmt::format("{:<30} {:<28} {:>9} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8}\n", b.binding, b.rule_id, b.total_rows,
                       due(Phase::kArchive), due(Phase::kPseudonymise), due(Phase::kDelete),
                       computed(b.held.count, plan.full_scan), b.operator_held.count, computed(missing, b.missing_counted));
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
      if (b.parts_dropped)
        out += fmt::format("    of the deletions, whole partitions dropped: {}\n", b.parts_dropped);
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
    out += "\nn/c: not computed. A fast plan reads or counts only the records that can be due or miss a fact,\n"
           "so records held by data were not counted (nor missing facts where the store cannot count them);\n"
           "op.hd counts the due records an operator hold keeps. For them, run `retention plan` without\n"
           "--fast, or `retention report`.\n";
  if (!plan.manual_rules.empty()) {
    out += "\nManual rules of these fiches (never acted on; a person decides):\n";
    for (const Rule* r : plan.manual_rules) out += fmt::format("  {:<28} {}\n", r->id, r->manual_reason);
  }
  return out;
}

}  // namespace retention
