// The embedded state database: one SQLite file (WAL, synchronous FULL, owner-only),
// serialised by BEGIN IMMEDIATE, and a run lock taken with flock on "<path>.lock".
#include "state/sqlite_state.h"

#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "retention/secrets.h"
#include "store/sqlite_handle.h"

namespace retention {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, ended_at TEXT, as_of TEXT NOT NULL,
  policy_hash TEXT NOT NULL, config_hash TEXT NOT NULL, status TEXT NOT NULL, counts TEXT);
CREATE TABLE IF NOT EXISTS holds (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL, binding TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL, author TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, released_at TEXT,
  release_reason TEXT, release_author TEXT);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, time TEXT NOT NULL, kind TEXT NOT NULL,
  binding TEXT NOT NULL, rule_id TEXT NOT NULL, action TEXT NOT NULL, count INTEGER NOT NULL,
  key_digests TEXT NOT NULL, policy_hash TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_kind ON audit (kind);
CREATE TABLE IF NOT EXISTS policy_versions (
  id TEXT PRIMARY KEY, first_used TEXT NOT NULL, vocabulary TEXT NOT NULL, files TEXT NOT NULL, mac TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policy_sets (
  policy_hash TEXT PRIMARY KEY, version TEXT NOT NULL, first_used TEXT NOT NULL, plans INTEGER NOT NULL DEFAULT 0,
  last_planned TEXT, mac TEXT NOT NULL);
)";

class SqliteState : public StateBackend {
 public:
  explicit SqliteState(std::string path) : path_(std::move(path)) {}
  ~SqliteState() override { UnlockRun(); }

  Status Open() {
    // Owner-only from its creation; SQLite gives its journal and WAL files the same mode.
    if (Status created = CreatePrivateFile(path_); !created.ok()) return created;
    auto opened = sqlite::Database::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, Label(), 30000);
    if (!opened.ok()) return opened.status();
    db_.emplace(std::move(*opened));
    return Status::Ok();
  }

  std::string Label() const override { return fmt::format("state database {}", path_); }

  Status Prepare() override {
    Status s = db_->ExecScript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    if (s.ok()) s = db_->ExecScript(kSchema);
    if (!s.ok()) return s;
    bool keyed = false;
    s = Query("SELECT 1 FROM pragma_table_info('audit') WHERE name = 'detail'", {}, [&](const Row&) { keyed = true; });
    if (!s.ok()) return s;
    if (!keyed)
      return Status::FailedPrecondition(fmt::format(
          "state database {} was made by a version without the keyed audit chain: keep it as the record of past "
          "runs and start a new one (docs/operations.md)", path_));
    return Status::Ok();
  }

  Status Query(const std::string& sql, const std::vector<Value>& params,
               const std::function<void(const Row&)>& row) override {
    return db_->Query(sql, params, [&](const Row& r) {
      row(r);
      return true;
    });
  }
  Status Exec(const std::string& sql, const std::vector<Value>& params) override { return db_->Exec(sql, params); }
  // One writer at a time: every write transaction is BEGIN IMMEDIATE, so the chain and
  // the holds need no other lock; a read takes a snapshot (WAL).
  Status Begin(Txn kind) override { return db_->Exec(kind == Txn::kRead ? "BEGIN" : "BEGIN IMMEDIATE"); }
  Status LockChain() override { return Status::Ok(); }
  Status Commit() override { return db_->Exec("COMMIT"); }
  void Rollback() override {
    if (db_->InTransaction()) db_->Exec("ROLLBACK");
  }
  bool InTransaction() const override { return db_->InTransaction(); }
  Result<int64_t> LastInsertId() override { return db_->LastInsertRowid(); }

  Status LockRun(bool /*shared*/) override {
    std::string lock = path_ + ".lock";
    int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoError(fmt::format("cannot create {}", lock));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      return Status::FailedPrecondition(
          fmt::format("another run holds {} (one run at a time per state database)", lock));
    }
    lock_fd_ = fd;
    return Status::Ok();
  }
  void UnlockRun() override {
    if (lock_fd_ >= 0) close(lock_fd_);
    lock_fd_ = -1;
  }


 private:
  std::string path_;
  std::optional<sqlite::Database> db_;
  int lock_fd_ = -1;
};

}  // namespace

Result<std::unique_ptr<StateBackend>> OpenSqliteState(const std::string& path) {
  auto state = std::make_unique<SqliteState>(path);
  if (Status s = state->Open(); !s.ok()) return s;
  return std::unique_ptr<StateBackend>(std::move(state));
}

}  // namespace retention
