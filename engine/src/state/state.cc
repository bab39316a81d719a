#include "retention/state.h"

#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <ctime>
#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "retention/secrets.h"

namespace retention {
namespace {

using Value = std::optional<std::string>;
using Row = std::vector<Value>;

// An integer column as stored; -1 when it is not a number (SQLite keeps any text in an
// INTEGER column): the audit chain then fails to verify instead of throwing.
int64_t IntOf(const Value& v) {
  int64_t n = -1;
  if (!v) return n;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  return ec == std::errc() && end == v->data() + v->size() ? n : -1;
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, ended_at TEXT, as_of TEXT NOT NULL,
  policy_hash TEXT NOT NULL, config_hash TEXT NOT NULL, status TEXT NOT NULL, counts TEXT);
CREATE TABLE IF NOT EXISTS holds (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL, binding TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL, created_at TEXT NOT NULL, released_at TEXT, release_reason TEXT);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, time TEXT NOT NULL, binding TEXT NOT NULL,
  rule_id TEXT NOT NULL, action TEXT NOT NULL, count INTEGER NOT NULL, key_digests TEXT NOT NULL,
  policy_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
)";

}  // namespace

const char* HoldKindName(OperatorHold::Kind kind) {
  switch (kind) {
    case OperatorHold::Kind::kSubject: return "subject";
    case OperatorHold::Kind::kKey: return "key";
    case OperatorHold::Kind::kRule: return "rule";
    case OperatorHold::Kind::kStore: return "store";
  }
  return "?";
}

std::string AuditCanonical(const AuditEntry& e) {
  nlohmann::ordered_json j;
  j["id"] = e.id;
  j["run_id"] = e.run_id;
  j["time"] = e.time;
  j["binding"] = e.binding;
  j["rule_id"] = e.rule_id;
  j["action"] = e.action;
  j["count"] = e.count;
  j["key_digests"] = e.key_digests;
  j["policy_hash"] = e.policy_hash;
  j["prev_hash"] = e.prev_hash;
  return j.dump();
}

class ActiveHolds : public HoldChecker {
 public:
  std::vector<OperatorHold> holds;
  const StateDb* db = nullptr;
  std::optional<std::string> Held(const Binding& b, const std::string& key, const std::string& subject) const override {
    for (const auto& h : holds) {
      switch (h.kind) {
        case OperatorHold::Kind::kRule:
          if (b.rule && (h.value == b.rule->id ||
                         std::find(b.rule->implements.begin(), b.rule->implements.end(), h.value) != b.rule->implements.end()))
            return h.reason;
          break;
        case OperatorHold::Kind::kStore:
          if (h.value == b.store) return h.reason;
          break;
        case OperatorHold::Kind::kKey:
          if (b.name.substr(0, b.name.find('@')) == h.binding && db->Digest(key) == h.value) return h.reason;
          break;
        case OperatorHold::Kind::kSubject:
          if (!subject.empty() && db->Digest(subject) == h.value) return h.reason;
          break;
      }
    }
    return std::nullopt;
  }
};

struct StateDb::Impl {
  sqlite3* db = nullptr;
  std::string path;
  std::string key;
  int lock_fd = -1;
  ActiveHolds active;

  ~Impl() {
    if (lock_fd >= 0) close(lock_fd);
    if (db) sqlite3_close_v2(db);
  }

  Status Error(const std::string& what) const {
    return Status::IoError(fmt::format("state database {}: {}: {}", path, what, db ? sqlite3_errmsg(db) : "?"));
  }

  Status Query(const std::string& sql, const std::vector<Value>& params, const std::function<void(const Row&)>& row) const {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return Error("prepare");
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i]) sqlite3_bind_text(stmt, static_cast<int>(i + 1), params[i]->c_str(), -1, SQLITE_TRANSIENT);
      else sqlite3_bind_null(stmt, static_cast<int>(i + 1));
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row r(static_cast<size_t>(sqlite3_column_count(stmt)));
      for (int c = 0; c < sqlite3_column_count(stmt); ++c)
        if (auto t = sqlite3_column_text(stmt, c)) r[static_cast<size_t>(c)] = reinterpret_cast<const char*>(t);
      row(r);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? Status::Ok() : Error("query");
  }
  Status Exec(const std::string& sql, const std::vector<Value>& params = {}) const {
    return Query(sql, params, [](const Row&) {});
  }
  Status ExecScript(const char* sql) const {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "?";
      sqlite3_free(err);
      return Status::IoError(fmt::format("state database {}: {}", path, m));
    }
    return Status::Ok();
  }
};

StateDb::StateDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { impl_->active.db = this; }
StateDb::~StateDb() = default;
StateDb::StateDb(StateDb&& o) noexcept : impl_(std::move(o.impl_)) { if (impl_) impl_->active.db = this; }
StateDb& StateDb::operator=(StateDb&& o) noexcept {
  impl_ = std::move(o.impl_);
  if (impl_) impl_->active.db = this;
  return *this;
}

Result<StateDb> StateDb::Open(const std::string& path, std::string audit_key) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->key = std::move(audit_key);
  // Owner-only from its creation; SQLite gives its journal and WAL files the same mode.
  if (Status created = CreatePrivateFile(path); !created.ok()) return created;
  int rc = sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc == SQLITE_OK) chmod(path.c_str(), 0600);
  if (rc != SQLITE_OK) return impl->Error("cannot open");
  sqlite3_busy_timeout(impl->db, 30000);
  Status s = impl->ExecScript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  if (s.ok()) s = impl->ExecScript(kSchema);
  if (!s.ok()) return s;
  StateDb db(std::move(impl));
  if (Status r = db.ReloadHolds(); !r.ok()) return r;
  return db;
}

Status StateDb::LockForRun() {
  std::string lock = impl_->path + ".lock";
  int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError(fmt::format("cannot create {}", lock));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return Status::FailedPrecondition(
        fmt::format("another run holds {} (one run at a time per state database)", lock));
  }
  impl_->lock_fd = fd;
  return Status::Ok();
}

void StateDb::Unlock() {
  if (impl_->lock_fd >= 0) close(impl_->lock_fd);
  impl_->lock_fd = -1;
}

namespace {
RunRecord ToRun(const Row& r) {
  RunRecord run;
  run.id = IntOf(r[0]);
  run.started_at = r[1].value_or("");
  run.ended_at = r[2].value_or("");
  run.as_of = Date::Parse(r[3].value_or("")).value_or(Date());
  run.policy_hash = r[4].value_or("");
  run.config_hash = r[5].value_or("");
  run.status = r[6].value_or("");
  run.counts = r[7].value_or("");
  return run;
}
constexpr const char* kRunColumns = "id, started_at, ended_at, as_of, policy_hash, config_hash, status, counts";
}  // namespace

Result<std::optional<RunRecord>> StateDb::LastRun(bool applied_only) const {
  std::optional<RunRecord> out;
  std::string sql = fmt::format("SELECT {} FROM runs {} ORDER BY as_of DESC, id DESC LIMIT 1", kRunColumns,
                                applied_only ? "WHERE status IN ('done', 'guarded', 'failed', 'running')" : "");
  Status s = impl_->Query(sql, {}, [&](const Row& r) { out = ToRun(r); });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<RunRecord>> StateDb::Runs() const {
  std::vector<RunRecord> out;
  Status s = impl_->Query(fmt::format("SELECT {} FROM runs ORDER BY id", kRunColumns), {},
                          [&](const Row& r) { out.push_back(ToRun(r)); });
  if (!s.ok()) return s;
  return out;
}

Result<int64_t> StateDb::BeginRun(Date as_of, const std::string& policy_hash, const std::string& config_hash,
                                  const std::string& status) {
  Status s = impl_->Exec("INSERT INTO runs (started_at, as_of, policy_hash, config_hash, status) VALUES (?, ?, ?, ?, ?)",
                         {NowUtc(), as_of.ToString(), policy_hash, config_hash, status});
  if (!s.ok()) return s;
  return static_cast<int64_t>(sqlite3_last_insert_rowid(impl_->db));
}

Status StateDb::EndRun(int64_t id, const std::string& status, const std::string& counts_json) {
  return impl_->Exec("UPDATE runs SET ended_at = ?, status = ?, counts = ? WHERE id = ?",
                     {NowUtc(), status, counts_json, std::to_string(id)});
}

std::string StateDb::Digest(const std::string& value) const { return internal::HmacSha256Hex(impl_->key, value); }

Result<int64_t> StateDb::AddHold(OperatorHold::Kind kind, const std::string& value, const std::string& binding,
                                 const std::string& reason) {
  if (reason.empty()) return Status::InvalidArgument("a hold needs a reason");
  std::string stored = (kind == OperatorHold::Kind::kSubject || kind == OperatorHold::Kind::kKey) ? Digest(value) : value;
  Status s = impl_->Exec("INSERT INTO holds (kind, value, binding, reason, created_at) VALUES (?, ?, ?, ?, ?)",
                         {HoldKindName(kind), stored, binding, reason, NowUtc()});
  if (!s.ok()) return s;
  int64_t id = static_cast<int64_t>(sqlite3_last_insert_rowid(impl_->db));
  if (Status r = ReloadHolds(); !r.ok()) return r;
  return id;
}

Status StateDb::ReleaseHold(int64_t id, const std::string& reason) {
  if (reason.empty()) return Status::InvalidArgument("releasing a hold needs a reason");
  bool active = false;
  Status s = impl_->Query("SELECT 1 FROM holds WHERE id = ? AND released_at IS NULL", {std::to_string(id)},
                          [&](const Row&) { active = true; });
  if (!s.ok()) return s;
  if (!active) return Status::NotFound(fmt::format("no active hold with id {}", id));
  Status u = impl_->Exec("UPDATE holds SET released_at = ?, release_reason = ? WHERE id = ?",
                         {NowUtc(), reason, std::to_string(id)});
  return u.ok() ? ReloadHolds() : u;
}

Result<std::vector<OperatorHold>> StateDb::Holds(bool include_released) const {
  std::vector<OperatorHold> out;
  Status s = impl_->Query(
      std::string("SELECT id, kind, value, binding, reason, created_at, released_at, release_reason FROM holds") +
          (include_released ? "" : " WHERE released_at IS NULL") + " ORDER BY id",
      {}, [&](const Row& r) {
        OperatorHold h;
        h.id = IntOf(r[0]);
        std::string kind = r[1].value_or("");
        for (auto k : {OperatorHold::Kind::kSubject, OperatorHold::Kind::kKey, OperatorHold::Kind::kRule,
                       OperatorHold::Kind::kStore})
          if (kind == HoldKindName(k)) h.kind = k;
        h.value = r[2].value_or("");
        h.binding = r[3].value_or("");
        h.reason = r[4].value_or("");
        h.created_at = r[5].value_or("");
        h.released_at = r[6].value_or("");
        h.release_reason = r[7].value_or("");
        out.push_back(std::move(h));
      });
  if (!s.ok()) return s;
  return out;
}

const HoldChecker& StateDb::holds() const { return impl_->active; }

Status StateDb::ReloadHolds() {
  auto h = Holds(false);
  if (!h.ok()) return h.status();
  impl_->active.holds = std::move(*h);
  return Status::Ok();
}

Status StateDb::BeginBatch() {
  if (Status s = impl_->Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  return ReloadHolds();
}

Status StateDb::AppendAudit(int64_t run_id, const AppliedBatch& batch, const std::string& policy_hash) {
  AuditEntry e;
  std::string prev = "genesis";
  int64_t last_id = 0;
  Status s = impl_->Query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", {}, [&](const Row& r) {
    last_id = IntOf(r[0]);
    prev = r[1].value_or("");
  });
  if (!s.ok()) return s;
  e.id = last_id + 1;
  e.run_id = run_id;
  e.time = NowUtc();
  e.binding = batch.binding->name;
  e.rule_id = batch.binding->rule->id;
  e.action = PhaseName(batch.action);
  e.key_digests = batch.key_digests;  // a recovered batch (recover.h) carries digests
  for (const auto& k : batch.keys) e.key_digests.push_back(Digest(k));
  e.count = static_cast<int64_t>(e.key_digests.size());
  e.policy_hash = policy_hash;
  e.prev_hash = prev;
  e.hash = internal::Sha256Hex(AuditCanonical(e));
  return impl_->Exec("INSERT INTO audit (id, run_id, time, binding, rule_id, action, count, key_digests, policy_hash, "
                     "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     {std::to_string(e.id), std::to_string(e.run_id), e.time, e.binding, e.rule_id, e.action,
                      std::to_string(e.count), nlohmann::json(e.key_digests).dump(), e.policy_hash, e.prev_hash, e.hash});
}

Status StateDb::CommitBatch() { return impl_->Exec("COMMIT"); }

void StateDb::AbortBatch() {
  if (!sqlite3_get_autocommit(impl_->db)) impl_->Exec("ROLLBACK");
}

Result<std::vector<AuditEntry>> StateDb::Audit(std::optional<int64_t> run_id) const {
  std::vector<AuditEntry> out;
  std::string sql = "SELECT id, run_id, time, binding, rule_id, action, count, key_digests, policy_hash, prev_hash, "
                    "hash FROM audit";
  std::vector<Value> params;
  if (run_id) {
    sql += " WHERE run_id = ?";
    params.push_back(std::to_string(*run_id));
  }
  Status s = impl_->Query(sql + " ORDER BY id", params, [&](const Row& r) {
    AuditEntry e;
    e.id = IntOf(r[0]);
    e.run_id = IntOf(r[1]);
    e.time = r[2].value_or("");
    e.binding = r[3].value_or("");
    e.rule_id = r[4].value_or("");
    e.action = r[5].value_or("");
    e.count = IntOf(r[6]);
    auto digests = nlohmann::json::parse(r[7].value_or("[]"), nullptr, false);
    if (digests.is_array())
      for (const auto& d : digests)
        if (d.is_string()) e.key_digests.push_back(d.get<std::string>());
    e.policy_hash = r[8].value_or("");
    e.prev_hash = r[9].value_or("");
    e.hash = r[10].value_or("");
    out.push_back(std::move(e));
  });
  if (!s.ok()) return s;
  return out;
}

Result<AuditVerification> StateDb::VerifyAudit() const {
  auto entries = Audit(std::nullopt);
  if (!entries.ok()) return entries.status();
  AuditVerification v;
  std::string prev = "genesis";
  int64_t expected_id = 1;
  for (const auto& e : *entries) {
    ++v.entries;
    std::string problem;
    if (e.id != expected_id) problem = fmt::format("entry {} follows entry {}: an entry was removed", e.id, expected_id - 1);
    else if (e.prev_hash != prev) problem = fmt::format("entry {} does not chain to the previous entry", e.id);
    else if (internal::Sha256Hex(AuditCanonical(e)) != e.hash) problem = fmt::format("entry {} was modified", e.id);
    else if (e.count != static_cast<int64_t>(e.key_digests.size()))
      problem = fmt::format("entry {} counts {} keys but lists {}", e.id, e.count, e.key_digests.size());
    if (!problem.empty()) {
      v.ok = false;
      v.first_bad_id = e.id;
      v.problem = problem;
      return v;
    }
    prev = e.hash;
    ++expected_id;
  }
  v.head = prev;
  // Each finished run recorded the chain's length and head at its end.
  auto runs = Runs();
  if (!runs.ok()) return runs.status();
  for (const auto& run : *runs) {
    auto counts = nlohmann::json::parse(run.counts.empty() ? "{}" : run.counts, nullptr, false);
    if (!counts.is_object() || !counts.contains("audit_entries")) continue;
    if (!counts["audit_entries"].is_number_integer() || !counts.contains("audit_head") ||
        !counts["audit_head"].is_string()) {
      v.ok = false;
      v.first_bad_id = v.entries + 1;
      v.problem = fmt::format("run {} recorded an unreadable chain length or head", run.id);
      return v;
    }
    int64_t n = counts["audit_entries"].get<int64_t>();
    std::string head = counts["audit_head"].get<std::string>();
    if (n > v.entries) {
      v.ok = false;
      v.first_bad_id = v.entries + 1;
      v.problem = fmt::format("run {} recorded {} entries but the chain has {}: entries were removed", run.id, n, v.entries);
      return v;
    }
    if (n > 0 && (*entries)[static_cast<size_t>(n - 1)].hash != head) {
      v.ok = false;
      v.first_bad_id = n;
      v.problem = fmt::format("entry {} is not the head run {} recorded", n, run.id);
      return v;
    }
  }
  return v;
}

}  // namespace retention
