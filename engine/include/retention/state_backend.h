// The SQL database under the state (StateDb): the embedded SQLite file by default, or a
// PostgreSQL database shared by several instances (retention::postgres registers it,
// ConnectorRegistry::RegisterState). StateDb writes portable SQL with `?` parameters;
// a backend translates the placeholders, owns the schema in its dialect and provides
// the locks that keep one audit chain whole when several processes append to it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "retention/status.h"

namespace retention {

class StateBackend {
 public:
  using Value = std::optional<std::string>;  // NULL or the value as text
  using Row = std::vector<Value>;

  // What a transaction may do, hence the locks it takes first.
  enum class Txn {
    kWrite,  // runs, holds, entries: exclusive over holds and the chain
    kBatch,  // an applied batch: holds stay as read (shared); the chain is locked by LockChain
    kRead,   // a consistent read of several tables (audit verification)
  };

  virtual ~StateBackend() = default;
  // "state database <path>" or "PostgreSQL state database": for messages, never a secret.
  virtual std::string Label() const = 0;
  // Creates the tables when missing (runs, holds, audit, policy_versions, policy_sets,
  // leases) and refuses a database it cannot use.
  virtual Status Prepare() = 0;
  virtual Status Query(const std::string& sql, const std::vector<Value>& params,
                       const std::function<void(const Row&)>& row) = 0;
  virtual Status Exec(const std::string& sql, const std::vector<Value>& params) = 0;
  virtual Status Begin(Txn kind) = 0;
  // Inside a kBatch transaction, before its entry is appended: exclusive until commit.
  virtual Status LockChain() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  virtual bool InTransaction() const = 0;
  // The id of the row the last INSERT made (runs, holds).
  virtual Result<int64_t> LastInsertId() = 0;
  // The run lock, held until UnlockRun: exclusive (one run at a time), or shared by runs
  // that divide the bindings by lease. Fails at once when another run holds it.
  virtual Status LockRun(bool shared) = 0;
  virtual void UnlockRun() = 0;
  // Whether several instances can share this database and divide bindings by lease.
  virtual bool Shared() const { return false; }
};

}  // namespace retention
