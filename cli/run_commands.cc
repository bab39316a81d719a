// retention plan | run: the DPO's dry-run and the nightly job, one code path.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "deployment_loader.h"
#include "observability.h"
#include "retention/report.h"
#include "retention/run.h"
#include "retention/secrets.h"

namespace retention::cli {
namespace {

struct PlanRunOptions {
  std::string config;
  std::string policies;
  std::string as_of;
  std::vector<std::string> bindings;
  std::string save;
  std::string format = "text";
  bool fast = false;
  std::string approved;
  std::string approved_by;
  int expires = 7;
  bool allow_mass = false;
  std::string metrics_file;
  bool log = false;
};

// The exit code of a plan's or run's error: 5 when no selected binding's store could
// be opened; a run's refusals 4; a plan's bad input 2; otherwise 1.
int ErrorExit(const Status& s, bool run) {
  if (s.code() == Status::Code::kUnavailable) return kExitStoreDown;
  if (run) return s.code() == Status::Code::kFailedPrecondition ? kExitRefused : kExitFailed;
  return s.code() == Status::Code::kInvalidArgument ? kExitBadInput : kExitFailed;
}

// Exit code 5 when stores were unavailable (their bindings left out), else `code`.
int UnavailableExit(const RunOutcome& out, int code) {
  if (out.unavailable_stores.empty()) return code;
  for (const auto& [store, why] : out.unavailable_stores)
    std::cerr << fmt::format("retention: store '{}' was unavailable; its bindings were not planned or run\n", store);
  return kExitStoreDown;
}

int RunPlan(const PlanRunOptions& o) {
  Date as_of = ParseAsOf(o.as_of, "--as-of");
  auto loaded = LoadForCommand(o.config, o.policies, true, State::kIfExists);
  bool has_state = loaded->state.has_value();
  for (const auto& b : o.bindings)
    if (!loaded->deployment.FindBinding(b)) throw Exit{kExitBadInput, fmt::format("unknown binding '{}'", b)};
  RunOptions ro;
  ro.as_of = as_of;
  ro.full_scan = !o.fast;
  ro.only_bindings = o.bindings;
  ro.progress = TerminalProgress();
  if (!o.save.empty()) {
    ro.approval_key = AuditKeyOrExit(loaded->deployment);
    ro.approval_days = o.expires;
  }
  auto out = PlanOrRun(loaded->deployment, loaded->policies, *loaded->stores,
                       loaded->state ? &*loaded->state : nullptr, ro);
  if (!out.ok()) throw Exit{ErrorExit(out.status(), false), out.status().message()};
  std::string json = PlanToJson(out->plan);
  if (!out->lock_findings.empty()) {  // flagged: a run would refuse the locks still holding
    auto j = nlohmann::ordered_json::parse(json, nullptr, false);
    nlohmann::ordered_json locks = nlohmann::ordered_json::array();
    for (const auto& f : out->lock_findings)
      locks.push_back({{"rule", f.lock.rule_id}, {"lock_entry", f.lock.entry}, {"overridden", f.overridden()},
                       {"rule_missing", f.rule_missing}, {"records_earlier", f.earlier}, {"at_once", f.at_once},
                       {"by_binding", f.by_binding}, {"message", f.Message()}});
    if (j.is_object()) j["lock_findings"] = locks;
    json = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (!o.save.empty()) {
    // The plan lists sample keys: owner-only when created.
    if (Status created = CreatePrivateFile(o.save); !created.ok()) throw Exit{kExitBadInput, created.message()};
    std::ofstream f(o.save);
    f << out->approval_json << "\n";
    if (!f) throw Exit{kExitBadInput, fmt::format("cannot write {}", o.save)};
  }
  std::cout << (o.format == "json" ? json + "\n" : PlanToText(out->plan));
  if (o.format != "json" && loaded->state) {
    // Every hold in force, named, even one that keeps nothing due today (op.hd 0).
    auto holds = HoldsInForce(loaded->deployment, out->plan, *loaded->state);
    if (holds.ok() && !holds->empty()) {
      std::cout << "\nOperator holds in force (op.hd: due records they keep):\n";
      for (const auto& h : *holds)
        std::cout << fmt::format("  #{} {} {} by {}: {} (bindings: {})\n", h.id, h.kind, h.target,
                                 h.author.empty() ? "?" : h.author, h.reason, fmt::join(h.bindings, ", "));
    }
  }
  for (const auto& f : out->lock_findings)
    std::cerr << fmt::format("retention: {}: {}\n", f.overridden() ? "lock overridden, a run would rely on the override"
                                                                      : "LOCKED, a run would be refused",
                             f.Message());
  if (!o.save.empty() && o.format != "json")
    std::cout << fmt::format("\nSaved to {} (valid {} days, once): review it, then `retention run --config {} --approved {} "
                             "--approved-by NAME`.\n", o.save, o.expires, o.config, o.save);
  if (!has_state) std::cerr << "note: no state database yet, so operator holds were not checked\n";
  return UnavailableExit(*out, kExitOk);
}

int RunRun(const PlanRunOptions& o) {
  std::optional<Date> as_of;
  if (!o.as_of.empty()) as_of = ParseAsOf(o.as_of, "--as-of");
  auto loaded = LoadForCommand(o.config, o.policies, true, State::kRequired, true);
  RunOptions ro;
  ro.as_of = as_of;
  ro.apply = true;
  ro.allow_mass = o.allow_mass;
  ro.only_bindings = o.bindings;
  ro.progress = TerminalProgress();
  ro.pseudonymise_keys = loaded->pseudonymise_keys;
  if (!o.approved.empty()) {
    std::error_code ec;  // a FIFO or a device would block the read: a regular file only
    if (!std::filesystem::is_regular_file(o.approved, ec))
      throw Exit{kExitBadInput, fmt::format("{} is not a regular file", o.approved)};
    std::ifstream in(o.approved);
    if (!in) throw Exit{kExitBadInput, fmt::format("cannot read {}", o.approved)};
    std::stringstream text;
    text << in.rdbuf();
    auto plan = ParseApprovedPlan(text.str());
    if (!plan.ok()) throw Exit{kExitBadInput, fmt::format("{}: {}", o.approved, plan.status().message())};
    ro.approved = *plan;
    ro.approved->approved_by = o.approved_by;
  }
  auto start = std::chrono::steady_clock::now();
  auto out = PlanOrRun(loaded->deployment, loaded->policies, *loaded->stores, &*loaded->state, ro);
  if (!out.ok()) throw Exit{ErrorExit(out.status(), true), out.status().message()};
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.log) LogRun(EventLog(), *out, seconds);
  if (!o.metrics_file.empty()) {
    auto runs = loaded->state->Runs();
    LastRun last{&*out, seconds};
    Status written = runs.ok() ? WriteMetricsFile(o.metrics_file, MetricsText(*runs, last)) : runs.status();
    if (!written.ok()) std::cerr << "retention: metrics: " << written.message() << "\n";
  }
  std::cout << PlanToText(out->plan);
  if (out->recovered_batches > 0)
    std::cout << fmt::format("\nRecorded first: {} batch(es), {} record(s), changed by an interrupted run\n",
                             out->recovered_batches, out->recovered_records);
  if (out->by_lease) {
    // Lease-sharded (docs/scaling.md): one run per binding this instance claimed.
    if (out->leased.empty())
      std::cout << "\nNo binding left to claim: the other instances hold or have done every one for this date\n";
    for (const auto& l : out->leased) {
      std::cout << fmt::format("\nBinding {} (leased): run #{} {}. Certificate: {}\n", l.binding, l.run_id, l.status,
                               l.certificate_text);
      if (l.lease_lost)
        std::cerr << fmt::format("retention: the lease of binding {} was lost: this instance paused longer than "
                                 "lease_seconds and another instance took the binding over; what was applied before "
                                 "is audited\n", l.binding);
    }
  } else {
    std::cout << fmt::format("\nRun #{} {}. Certificate: {} (and {})\n", out->run_id,
                             out->incomplete ? "incomplete" : "done", out->certificate_text, out->certificate_json);
  }
  for (const auto& f : out->lock_findings)
    std::cout << fmt::format("Relied on the override (entry {}, by {}) of the lock of rule {}: {} record(s) acted on "
                             "earlier than the locked version; recorded in the audit chain and on the certificate\n",
                             f.lock.override_entry, f.lock.override_author, f.lock.rule_id, f.earlier);
  int code = kExitOk;
  if (out->guard_tripped) {
    std::cerr << "retention: a guard stopped some bindings (see GUARD above); nothing was applied for them\n";
    code = kExitGuard;
  }
  code = UnavailableExit(*out, code);
  for (const auto& l : out->leased)
    if (l.lease_lost) code = kExitFailed;  // before 5 and 3, as for an incomplete run
  if (out->incomplete) {
    std::cerr << "retention: some records could not be acted on safely and were kept (see \"refused\", "
                 "\"skipped at apply\" and \"invalid_fact\" above); the run is incomplete\n";
    code = kExitFailed;
  }
  return code;
}

void CommonOptions(CLI::App* cmd, PlanRunOptions* o) {
  cmd->add_option("--config,-c", o->config, "The deployment configuration (YAML)")->required();
  cmd->add_option("--policies", o->policies, "Policy folder (default: the configuration's `policies`, then ./policies)");
  cmd->add_option("--binding,-b", o->bindings, "Only this binding (repeatable)");
}

}  // namespace

void AddPlanRunCommands(CLI::App& app, SetAction set_action) {
  auto o = std::make_shared<PlanRunOptions>();
  CLI::App* plan = app.add_subcommand("plan", "Dry-run: what would be archived, pseudonymised, deleted, held, missing");
  CommonOptions(plan, o.get());
  plan->add_option("--as-of", o->as_of, "Plan as of this date, past or future (default: today)");
  plan->add_option("--save", o->save, "Save the plan as JSON, to approve it for `run --approved`");
  plan->add_option("--format", o->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  plan->add_option("--expires", o->expires, "With --save: days the saved plan may be used (default 7)")
      ->check(CLI::Range(1, 365));
  plan->add_flag("--fast", o->fast,
                 "Push the due condition down to the stores: SQL stores count what is due and the missing facts "
                 "themselves (GROUP BY); records held by data or scheduled are not counted");
  plan->footer(R"(
A plan evaluates every record of every binding and reports, per binding: rows, what is
due per action (with sample keys), what is held (data-driven and operator holds),
missing facts and manual rules. Nothing is changed. `retention run` makes the same plan.
A locked rule (`retention policies lock`) that this policy set would make act earlier is
flagged on stderr (and in JSON, `lock_findings`): a run would refuse it (exit 4).

Examples:
  retention demo init && retention plan --config demo/config.yaml
  retention plan --config deploy.yaml --as-of 2027-01-01 --binding F05.prestations
  retention plan --config deploy.yaml --save plan.json)");
  plan->callback([o, set_action] { set_action([o] { return RunPlan(*o); }); });

  auto r = std::make_shared<PlanRunOptions>();
  CLI::App* run = app.add_subcommand("run", "Apply what is due: archive, pseudonymise, delete, with audit and guards");
  CommonOptions(run, r.get());
  run->add_option("--as-of", r->as_of, "Run as of this date (default: today; never in the future)");
  CLI::Option* approved =
      run->add_option("--approved", r->approved, "A plan saved with `plan --save` and reviewed: act only on its records");
  run->add_option("--approved-by", r->approved_by, "Who approved the plan (recorded in the audit and the certificate)")
      ->needs(approved);
  approved->needs(run->get_option("--approved-by"));
  run->add_flag("--allow-mass", r->allow_mass, "Ignore the per-binding max_rows / max_fraction guards");
  run->add_flag("--log", r->log, "Also write the run's events on stderr: JSON lines (readable lines on a terminal), "
                                "as retentiond does");
  run->add_option("--metrics-file", r->metrics_file,
                  "After the run, write its metrics there (Prometheus text, for node_exporter's textfile collector)");
  run->footer(R"(
A run plans, checks the guards (per binding max_rows and max_fraction; above them the
binding is skipped unless --approved covers it or --allow-mass), then applies in
batches, one transaction each, re-checking every record (data and operator holds) as
it is changed. Every batch is appended to the audit chain; a certificate is written.

Exit codes (docs/operations.md): 0 done, 1 failed or incomplete, 2 bad input,
  3 a guard skipped a binding, 4 refused (future date, earlier than the last run,
  another run active, audit chain that does not verify, approved plan stale,
  edited, already used, expired or dated in the future, a locked rule that this
  policy set would make act earlier: `retention policies lock`), 5 a store unavailable
  (the other stores' bindings ran). Several: the first of 4, 2, 1, 5, 3.

Several instances: with `state: {type: postgres, ..., lease_seconds: N}` in the
configuration, runs on several hosts share the bindings: each claims one binding at a
time by lease and runs it as a run of its own (`Binding NAME (leased): run #N done`);
--binding or --approved runs alone (docs/operations.md, "Several instances").

Examples:
  retention demo init && retention run --config demo/config.yaml --allow-mass
  retention run --config deploy.yaml --approved plan.json --approved-by "DPO office")");
  run->callback([r, set_action] { set_action([r] { return RunRun(*r); }); });
}

}  // namespace retention::cli
