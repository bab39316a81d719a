// What `retention run` and retentiond tell operators: structured logs (JSON lines, or
// a readable line on a terminal) and metrics in the Prometheus text format, served on
// /metrics or written as a node_exporter textfile. Neither ever holds a key or a raw
// identifier: only binding, rule, store and action names, counts and times.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retention/run.h"
#include "retention/state.h"

namespace retention::cli {

// One line per event on stderr: JSON (timestamp, level, event, then the fields), or
// `TIME LEVEL event key=value...` when stderr is a terminal (or `human` is forced).
class EventLog {
 public:
  explicit EventLog(std::optional<bool> human = std::nullopt);
  void Write(const char* level, const std::string& event, const nlohmann::ordered_json& fields = {}) const;
  void Info(const std::string& event, const nlohmann::ordered_json& fields = {}) const { Write("info", event, fields); }
  void Error(const std::string& event, const nlohmann::ordered_json& fields = {}) const { Write("error", event, fields); }

 private:
  bool human_;
};

// The log events of a run outcome: one per binding (counts), then run_end.
void LogRun(const EventLog& log, const RunOutcome& out, double seconds);

// The last run as metrics see it.
struct LastRun {
  const RunOutcome* outcome = nullptr;  // null: no run in this process
  double duration_seconds = 0;
};

// The metrics: runs by outcome, rows applied by rule and action (all from the state
// database's runs), the last success time, and, for the last run, rows per binding,
// rule and action, held, missing facts, guard, duration and the stores' availability.
std::string MetricsText(const std::vector<RunRecord>& runs, const LastRun& last);

// Writes `text` to `path` through a temporary file renamed over it (node_exporter's
// textfile collector never reads half a file).
Status WriteMetricsFile(const std::string& path, const std::string& text);

}  // namespace retention::cli
