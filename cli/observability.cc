#include "observability.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

namespace retention::cli {
namespace {

using nlohmann::ordered_json;

std::string NowUtc() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms);
}

// "2026-11-23T02:30:00Z" (the state database's times) → seconds since the epoch; 0 if not.
double EpochOf(const std::string& iso) {
  std::tm tm{};
  if (iso.size() < 20 || !strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return static_cast<double>(timegm(&tm));
}

std::string Label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out;
}

// One metric family: HELP, TYPE, then its samples.
struct Family {
  std::string name, help, type;
  std::vector<std::pair<std::string, double>> samples;  // labels ("a=\"b\"") → value
  void Add(const std::string& labels, double value) { samples.emplace_back(labels, value); }
  std::string Text() const {
    std::string out = fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const auto& [labels, v] : samples)
      out += labels.empty() ? fmt::format("{} {}\n", name, v) : fmt::format("{}{{{}}} {}\n", name, labels, v);
    return out;
  }
};

// Runs by status, rows applied by rule and action, the last success: from the state database.
std::string HistoryText(const std::vector<RunRecord>& runs) {
  Family by_outcome{"retention_runs_total", "Runs recorded in the state database, by outcome", "counter", {}};
  Family rows{"retention_rows_applied_total", "Rows applied by all recorded runs, by rule and action", "counter", {}};
  Family success{"retention_last_success_timestamp_seconds", "End of the last run that finished done", "gauge", {}};
  std::map<std::string, int64_t> outcomes{{"done", 0}, {"guarded", 0}, {"incomplete", 0}, {"interrupted", 0},
                                          {"failed", 0}};
  std::map<std::pair<std::string, std::string>, int64_t> applied;
  double last_success = 0;
  for (const auto& r : runs) {
    ++outcomes[r.status];
    if (r.status == "done") last_success = std::max(last_success, EpochOf(r.ended_at));
    ordered_json counts = ordered_json::parse(r.counts.empty() ? "{}" : r.counts, nullptr, false);
    if (!counts.is_object() || !counts.contains("bindings") || !counts["bindings"].is_array()) continue;
    for (const auto& b : counts["bindings"])
      if (b.is_object() && b.contains("applied") && b["applied"].is_object())
        for (const auto& [action, n] : b["applied"].items())
          if (n.is_number_integer()) applied[{b.value("rule", ""), action}] += n.get<int64_t>();
  }
  for (const auto& [status, n] : outcomes) by_outcome.Add(fmt::format("outcome=\"{}\"", Label(status)), n);
  for (const auto& [key, n] : applied)
    rows.Add(fmt::format("rule=\"{}\",action=\"{}\"", Label(key.first), Label(key.second)), n);
  success.Add("", last_success);
  return by_outcome.Text() + rows.Text() + success.Text();
}

std::string LastRunText(const LastRun& last) {
  const RunOutcome& out = *last.outcome;
  Family rows{"retention_last_run_rows", "Rows the last run applied, by binding, rule and action", "gauge", {}};
  Family held{"retention_last_run_held", "Records held (data and operator holds) in the last run, by binding", "gauge", {}};
  Family missing{"retention_last_run_missing_facts", "Records missing a fact in the last run, by binding", "gauge", {}};
  Family guard{"retention_last_run_guard_tripped", "1 when a guard skipped a binding in the last run", "gauge", {}};
  Family duration{"retention_last_run_duration_seconds", "Duration of the last run", "gauge", {}};
  Family down{"retention_last_run_stores_unavailable", "Stores that could not be opened for the last run", "gauge", {}};
  for (const auto& b : out.plan.bindings) {
    std::string labels = fmt::format("binding=\"{}\",rule=\"{}\"", Label(b.binding), Label(b.rule_id));
    for (const auto& [phase, n] : b.applied) rows.Add(fmt::format("{},action=\"{}\"", labels, PhaseName(phase)), n);
    held.Add(fmt::format("binding=\"{}\"", Label(b.binding)), b.held.count + b.operator_held.count);
    int64_t m = 0;
    for (const auto& [fact, n] : b.missing) m += n;
    missing.Add(fmt::format("binding=\"{}\"", Label(b.binding)), m);
  }
  guard.Add("", out.guard_tripped ? 1 : 0);
  duration.Add("", last.duration_seconds);
  down.Add("", static_cast<double>(out.unavailable_stores.size()));
  return rows.Text() + held.Text() + missing.Text() + guard.Text() + duration.Text() + down.Text();
}

std::string HumanValue(const ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

EventLog::EventLog(std::optional<bool> human) : human_(human.value_or(isatty(STDERR_FILENO) != 0)) {}

void EventLog::Write(const char* level, const std::string& event, const ordered_json& fields) const {
  std::string line;
  if (human_) {
    line = fmt::format("{} {:<5} {}", NowUtc(), level, event);
    if (fields.is_object())
      for (const auto& [k, v] : fields.items()) line += fmt::format(" {}={}", k, HumanValue(v));
  } else {
    ordered_json j{{"timestamp", NowUtc()}, {"level", level}, {"event", event}};
    if (fields.is_object()) j.update(fields);
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::cerr << line + "\n" << std::flush;  // one write per line
}

void LogRun(const EventLog& log, const RunOutcome& out, double seconds) {
  // A lease-sharded run is one run per claimed binding: each binding names its own.
  auto run_of = [&](const std::string& binding) {
    for (const auto& l : out.leased)
      if (binding.substr(0, binding.find('@')) == l.binding) return l.run_id;
    return out.run_id;
  };
  for (const auto& b : out.plan.bindings) {
    ordered_json applied = ordered_json::object();
    for (const auto& [phase, n] : b.applied) applied[PhaseName(phase)] = n;
    int64_t missing = 0;
    for (const auto& [fact, n] : b.missing) missing += n;
    ordered_json fields{{"run", run_of(b.binding)}, {"binding", b.binding}, {"rule", b.rule_id}, {"applied", applied},
                        {"skipped_at_apply", b.skipped_at_apply}, {"held", b.held.count + b.operator_held.count},
                        {"missing_facts", missing}};
    if (!b.guard.empty()) fields["guard"] = b.guard;
    log.Write(b.guard.empty() ? "info" : "warn", "binding_done", fields);
  }
  for (const auto& [store, why] : out.unavailable_stores)
    log.Error("store_unavailable", {{"run", out.run_id}, {"store", store}});
  ordered_json end{{"run", out.run_id}, {"status", out.status}, {"seconds", seconds},
                   {"recovered_batches", out.recovered_batches}};
  if (out.by_lease) {
    ordered_json runs = ordered_json::array();
    for (const auto& l : out.leased) runs.push_back({{"binding", l.binding}, {"run", l.run_id}, {"status", l.status}});
    end["leased"] = runs;
  }
  log.Info("run_end", end);
}

std::string MetricsText(const std::vector<RunRecord>& runs, const LastRun& last) {
  return HistoryText(runs) + (last.outcome ? LastRunText(last) : "");
}

Status WriteMetricsFile(const std::string& path, const std::string& text) {
  std::string tmp = fmt::format("{}.{}.tmp", path, getpid());
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    f.flush();
    if (!f) return Status::IoError(fmt::format("cannot write {}", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Status::IoError(fmt::format("cannot rename {} to {}", tmp, path));
  }
  return Status::Ok();
}

}  // namespace retention::cli
