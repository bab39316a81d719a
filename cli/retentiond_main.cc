// retentiond: the nightly run on a schedule (docs/operations.md). The same load and
// PlanOrRun as `retention run`; this file only adds the schedule, signals, the instance
// lock, logs and metrics.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "common.h"
#include "deployment_loader.h"
#include "observability.h"
#include "retention/run.h"
#include "retention/schedule.h"

namespace retention::cli {
namespace {

using nlohmann::ordered_json;
using Clock = std::chrono::system_clock;

struct DaemonOptions {
  std::string config, policies, listen = "127.0.0.1:9464", metrics_file;
};

std::string Iso(Instant t) {
  std::time_t secs = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Instant Now() { return std::chrono::floor<std::chrono::seconds>(Clock::now()); }

// SIGTERM, SIGINT, SIGHUP and SIGUSR1, blocked in every thread and read from a signalfd.
int SignalFd() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

// The next pending signal, or 0.
int ReadSignal(int fd) {
  signalfd_siginfo info{};
  return read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo) : 0;
}

class Daemon {
 public:
  Daemon(DaemonOptions o, EventLog log) : o_(std::move(o)), log_(log) {}
  int Main();

 private:
  void Lock();
  void Open(bool stores);
  void StartHttp();
  Instant FirstFire();
  void Loop();
  void Handle(int signal, bool running);
  void Reload();
  void RunOnce(const char* reason);
  bool Stop();
  void PublishMetrics(const LastRun& last);

  DaemonOptions o_;
  EventLog log_;
  std::unique_ptr<OpenedDeployment> loaded_;  // the accepted configuration and policies
  std::optional<CronSchedule> cron_;
  int lock_fd_ = -1, signal_fd_ = -1;
  bool terminate_ = false, reload_ = false, run_now_ = false;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  httplib::Server http_;
  std::thread http_thread_;
  std::mutex mutex_;  // guards metrics_ and health_
  std::string metrics_;
  ordered_json health_ = ordered_json::object();
};

int Daemon::Main() {
  loaded_ = LoadForCommand(o_.config, o_.policies, false, State::kNone);
  cron_ = *CronSchedule::Parse(loaded_->deployment.schedule.cron);  // validated by the loader
  Lock();
  signal_fd_ = SignalFd();
  if (signal_fd_ < 0) throw Exit{kExitFailed, "cannot read signals (signalfd)"};
  PublishMetrics({});
  StartHttp();
  Loop();
  http_.stop();
  if (http_thread_.joinable()) http_thread_.join();
  log_.Info("stopped");
  return kExitOk;
}

// One daemon per state database: an exclusive flock on `<state>.daemon.lock`.
void Daemon::Lock() {
  std::string path = loaded_->deployment.LocalStatePath() + ".daemon.lock";
  lock_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw Exit{kExitBadInput, fmt::format("cannot open {}", path)};
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    log_.Error("already_running", {{"lock", path}});
    throw Exit{kExitRefused, fmt::format("another retentiond holds {}", path)};
  }
}

// The state database (and with `stores` the stores and keys) of the accepted configuration.
void Daemon::Open(bool stores) {
  OpenForRun(CommandOpenOptions(o_.config, o_.policies, stores, State::kRequired, stores), loaded_.get());
}

void Daemon::StartHttp() {
  if (o_.listen == "none") return;
  auto colon = o_.listen.rfind(':');
  std::string host = o_.listen.substr(0, colon);
  int port = colon == std::string::npos ? -1 : std::atoi(o_.listen.c_str() + colon + 1);
  if (port < 0 || port > 65535) throw Exit{kExitBadInput, fmt::format("--listen '{}': expected HOST:PORT", o_.listen)};
  http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mutex_);
    res.set_content(metrics_, "text/plain; version=0.0.4");
  });
  http_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mutex_);
    res.set_content(health_.dump() + "\n", "application/json");
  });
  if (port == 0) port = http_.bind_to_any_port(host);
  else if (!http_.bind_to_port(host, port)) port = -1;
  if (port <= 0) throw Exit{kExitBadInput, fmt::format("--listen '{}': cannot listen there", o_.listen)};
  http_thread_ = std::thread([this] { http_.listen_after_bind(); });
  log_.Info("listening", {{"address", fmt::format("{}:{}", host, port)}});
}

// The schedule's next time, or now when a scheduled run was missed while the daemon was
// down (catch_up) and a run was made before.
Instant Daemon::FirstFire() {
  Instant now = Now();
  if (!loaded_->deployment.schedule.catch_up) return cron_->NextFire(now);
  Open(false);
  auto runs = loaded_->state->Runs();
  loaded_->state.reset();
  if (!runs.ok() || runs->empty()) return cron_->NextFire(now);
  std::tm tm{};
  if (!strptime(runs->back().started_at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return cron_->NextFire(now);
  Instant last{std::chrono::seconds{timegm(&tm)}};
  if (cron_->NextFire(last) <= now) {
    log_.Info("catch_up", {{"last_run", runs->back().id}, {"missed", Iso(cron_->NextFire(last))}});
    return now;
  }
  return cron_->NextFire(now);
}

void Daemon::Loop() {
  Instant next = FirstFire();
  log_.Info("started", {{"schedule", cron_->expression()}, {"next_run", Iso(next)},
                        {"policy_set", loaded_->policies.hash}});
  while (!terminate_) {
    {
      std::lock_guard lock(mutex_);
      health_["status"] = "ok";
      health_["next_run"] = Iso(next);
    }
    if (run_now_ || Now() >= next) {
      RunOnce(run_now_ ? "signal" : "schedule");
      run_now_ = false;
      if (reload_) Reload();
      next = cron_->NextFire(Now());
      log_.Info("next_run", {{"at", Iso(next)}});
      continue;
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Now()).count();
    pollfd fd{signal_fd_, POLLIN, 0};
    poll(&fd, 1, static_cast<int>(std::clamp<long long>(wait, 0, 60'000)));
    for (int s = ReadSignal(signal_fd_); s; s = ReadSignal(signal_fd_)) Handle(s, false);
    if (reload_) Reload();
  }
}

// During a run, only flags: the run stops between batches, reloads wait for its end.
void Daemon::Handle(int signal, bool running) {
  if (signal == SIGTERM || signal == SIGINT) {
    log_.Info("stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}, {"run_active", running}});
    terminate_ = true;
  } else if (signal == SIGHUP) {
    reload_ = true;
  } else if (signal == SIGUSR1) {
    if (running) log_.Info("run_requested", {{"note", "a run is active; request ignored"}});
    else run_now_ = true;
  }
}

// The new configuration and policies replace the old ones only if they load cleanly.
void Daemon::Reload() {
  reload_ = false;
  try {
    auto fresh = LoadForCommand(o_.config, o_.policies, false, State::kNone);
    auto server = [](const Deployment& d) {
      if (!d.state_server) return std::string();
      const StoreConfig& s = *d.state_server;
      auto schema = s.options.find("schema");
      return s.dsn_env + "\n" + s.dsn_file + "\n" + (schema == s.options.end() ? "" : schema->second);
    };
    if (fresh->deployment.state_path != loaded_->deployment.state_path ||
        server(fresh->deployment) != server(loaded_->deployment))
      throw Exit{kExitBadInput, "the state database changed: restart retentiond to use another one"};
    cron_ = *CronSchedule::Parse(fresh->deployment.schedule.cron);
    loaded_ = std::move(fresh);
    log_.Info("reloaded", {{"policy_set", loaded_->policies.hash},
                           {"configuration", loaded_->deployment.hash}, {"schedule", cron_->expression()}});
  } catch (const Exit& e) {
    log_.Error("reload_rejected", {{"error", e.message}, {"kept_policy_set", loaded_->policies.hash}});
  }
}

// Between batches: a SIGTERM or SIGINT read now, or the run window's end.
bool Daemon::Stop() {
  for (int s = ReadSignal(signal_fd_); s; s = ReadSignal(signal_fd_)) Handle(s, true);
  if (std::chrono::steady_clock::now() >= deadline_ && !terminate_) {
    log_.Info("window_ended", {{"max_duration_seconds", loaded_->deployment.schedule.max_duration_seconds}});
    deadline_ = std::chrono::steady_clock::time_point::min();  // logged once; still stops
  }
  return terminate_ || std::chrono::steady_clock::now() >= deadline_;
}

void Daemon::RunOnce(const char* reason) {
  log_.Info("run_start", {{"reason", reason}});
  auto start = std::chrono::steady_clock::now();
  int64_t window = loaded_->deployment.schedule.max_duration_seconds;
  deadline_ = window > 0 ? start + std::chrono::seconds(window) : std::chrono::steady_clock::time_point::max();
  std::optional<RunOutcome> outcome;
  try {
    Open(true);
    RunOptions ro;
    ro.apply = true;
    ro.pseudonymise_keys = loaded_->pseudonymise_keys;
    ro.stop = [this] { return Stop(); };
    auto out = PlanOrRun(loaded_->deployment, loaded_->policies, *loaded_->stores, &*loaded_->state, ro);
    if (out.ok()) outcome = std::move(*out);
    else log_.Error("run_failed", {{"error", out.status().message()}});
  } catch (const Exit& e) {
    log_.Error("run_failed", {{"error", e.message}});
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (outcome) LogRun(log_, *outcome, seconds);
  PublishMetrics({outcome ? &*outcome : nullptr, seconds});
  loaded_->stores.reset();
  loaded_->state.reset();
}

// Metrics from the state database and the last run, for /metrics and --metrics-file.
void Daemon::PublishMetrics(const LastRun& last) {
  try {
    if (!loaded_->state) Open(false);
  } catch (const Exit& e) {
    log_.Error("metrics_failed", {{"error", e.message}});
    return;
  }
  auto runs = loaded_->state->Runs();
  loaded_->state.reset();
  if (!runs.ok()) return log_.Error("metrics_failed", {{"error", runs.status().message()}});
  std::string text = MetricsText(*runs, last);
  if (!o_.metrics_file.empty())
    if (Status s = WriteMetricsFile(o_.metrics_file, text); !s.ok()) log_.Error("metrics_failed", {{"error", s.message()}});
  std::lock_guard lock(mutex_);
  metrics_ = std::move(text);
  if (last.outcome) health_["last_run"] = {{"id", last.outcome->run_id}, {"status", last.outcome->status}};
}

}  // namespace
}  // namespace retention::cli

int main(int argc, char** argv) {
  using namespace retention::cli;
  CLI::App app{"retentiond: runs `retention run` on a schedule, with logs and metrics", "retentiond"};
  DaemonOptions o;
  app.add_option("--config,-c", o.config, "The deployment configuration (YAML), with its `schedule:`")->required();
  app.add_option("--policies", o.policies, "Policy folder (default: the configuration's `policies`)");
  app.add_option("--listen", o.listen, "HOST:PORT of /metrics and /healthz (default 127.0.0.1:9464; port 0: any; none)");
  app.add_option("--metrics-file", o.metrics_file, "Also write the metrics there after each run (node_exporter textfile)");
  app.set_version_flag("--version", [] { return VersionText("retentiond", ""); },
                       "Print the version and the policy set's hash ($RETENTION_POLICIES, else ./policies), then exit");
  app.footer("Signals: TERM/INT stop after the current batch (the run is recorded as interrupted), HUP reloads\n"
             "the configuration and policies (kept if invalid), USR1 runs now. See docs/operations.md.");
  try {
    app.parse(argc, argv);
    return Daemon(o, EventLog()).Main();
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  } catch (const Exit& e) {
    EventLog().Error("exit", {{"code", e.code}, {"error", e.message}});
    return e.code;
  } catch (const std::exception& e) {
    EventLog().Error("internal_error", {{"error", e.what()}});
    return kExitFailed;
  }
}
