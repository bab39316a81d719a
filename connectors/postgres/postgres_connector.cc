#include "postgres/postgres_connector.h"

#include "retention/connectors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "retention/secrets.h"
#include "postgres/pg_handle.h"
#include "store/sql_connector.h"

namespace retention {
namespace {

constexpr const char* kQueryCanceled = "57014";

std::string TrimRight(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}


// A server message without the data values it may quote: its first line only (no
// DETAIL, HINT or CONTEXT), and every double-quoted text replaced unless it follows a
// word naming an object (relation "t", column "c", constraint "k"...).
std::string WithoutValues(std::string message) {
  message = TrimRight(message.substr(0, message.find('\n')));
  static const std::vector<std::string> kNames = {"relation", "column", "constraint", "table", "schema",
                                                  "index", "type", "function", "sequence", "view",
                                                  "database", "role", "user", "operator"};
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    size_t open = message.find('"', i);
    size_t close = open == std::string::npos ? open : message.find('"', open + 1);
    if (close == std::string::npos) {
      out += message.substr(i);
      break;
    }
    out += message.substr(i, open - i);
    size_t end = out.find_last_not_of(' ');
    size_t begin = end == std::string::npos ? 0 : out.find_last_of(' ', end);
    std::string word = end == std::string::npos ? "" : out.substr(begin == std::string::npos ? 0 : begin + 1, end - begin);
    bool name = std::find(kNames.begin(), kNames.end(), word) != kNames.end();
    out += name ? message.substr(open, close - open + 1) : "(value not shown)";
    i = close + 1;
  }
  return out;
}

class PostgresConnector : public SqlConnector {
 public:
  explicit PostgresConnector(StoreConfig config) : config_(std::move(config)) {}

  Status Open() {
    auto dsn = ReadConnectionString();
    if (!dsn.ok()) return dsn.status();
    std::string text = std::move(dsn).value();
    // Parse first: libpq's parse errors quote pieces of the string, which may hold a
    // password, so they are replaced by a message of our own.
    char* parse_error = nullptr;
    pg::Conninfo options(PQconninfoParse(text.c_str(), &parse_error));
    pg::Memory parse_message(parse_error);  // freed, never shown
    if (!options) {
      WipeSecret(&text);
      return Status::InvalidArgument(
          fmt::format("postgres store '{}': the connection string {} is not a valid libpq connection string", config_.name,
                      Source()));
    }
    conn_.reset(PQconnectdb(text.c_str()));
    WipeSecret(&text);
    if (!conn_) return Status::IoError(fmt::format("postgres store '{}': cannot connect: out of memory", config_.name));
    if (PQstatus(conn_.get()) != CONNECTION_OK)
      return Status::Unavailable(fmt::format("postgres store '{}': cannot connect: {}", config_.name,
                                         TrimRight(PQerrorMessage(conn_.get()))));
    // Notices (e.g. "relation already exists, skipping") are not written to stderr.
    PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
    // A timestamp fact is reduced to its date in Paris; text is exchanged as UTF-8.
    for (const char* set : {"SET TimeZone = 'Europe/Paris'", "SET client_encoding = 'UTF8'"})
      if (Status s = Exec(set, {}); !s.ok()) return s;
    return Status::Ok();
  }

  const StoreConfig& config() const override { return config_; }

  Result<std::vector<ColumnInfo>> Describe(const std::string& table) override {
    Value schema;
    std::string name = table;
    if (auto dot = table.find('.'); dot != std::string::npos) {
      schema = table.substr(0, dot);
      name = table.substr(dot + 1);
    }
    // The type is PostgreSQL's own name with its modifiers (format_type: "character
    // varying(20)", "numeric(10,2)", "timestamp with time zone"), so that an archive
    // table created from it holds the same values; information_schema's data_type
    // drops the modifiers (a bare "character" would be char(1)).
    static const char* kSql =
        "SELECT c.column_name::text, format_type(a.atttypid, a.atttypmod), "
        "EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary "
        "AND a.attnum = ANY (i.indkey)) "
        "FROM information_schema.columns c "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass "
        "AND a.attname = c.column_name "
        "WHERE c.table_schema = COALESCE($1::text, current_schema()::text) AND c.table_name = $2 "
        "ORDER BY c.ordinal_position";
    std::vector<ColumnInfo> out;
    Status s = Query(kSql, {schema, name}, [&](const Row& r) {
      out.push_back({r[0].value_or(""), r[1].value_or(""), r[2].value_or("f") == "t"});
      return true;
    });
    if (!s.ok()) return s;
    if (out.empty())
      return Status::NotFound(fmt::format("table '{}' does not exist (postgres store '{}')", table, config_.name));
    return out;
  }

  bool SameTransactionAs(const Connector& other) const override { return &other == this; }

  // A unique index (the primary key among them) on exactly this column, valid, not
  // partial, not on an expression, with the column NOT NULL (a primary key implies it).
  Status CheckUniqueKey(const std::string& table, const std::string& column) override {
    static const char* kSql =
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1 "
        "AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = $2 AND a.attnotnull)";
    bool unique = false;
    Status s = Query(kSql, {QuoteIdentifier(table), column}, [&](const Row& r) {
      unique = r[0].value_or("f") == "t";
      return true;
    });
    if (!s.ok()) return s;
    if (unique) return Status::Ok();
    // A partitioned table cannot have a unique index without its partition columns: a
    // unique index on the key column plus only partition columns, the key NOT NULL, is
    // accepted. A key may then repeat across partitions: such a key is refused when a
    // batch is applied (it matches several rows) and its rows are kept.
    static const char* kPartitioned =
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_partitioned_table p "
        "JOIN pg_catalog.pg_index i ON i.indrelid = p.partrelid "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attname = $2 AND a.attnotnull "
        "WHERE p.partrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL "
        "AND a.attnum = ANY (i.indkey::int2[]) "
        "AND i.indkey::int2[] <@ (ARRAY[a.attnum] || p.partattrs::int2[]))";
    s = Query(kPartitioned, {QuoteIdentifier(table), column}, [&](const Row& r) {
      unique = r[0].value_or("f") == "t";
      return true;
    });
    if (!s.ok()) return s;
    if (unique) return Status::Ok();
    return NotUniqueKey(table, column);
  }

  // The leaf partitions of the binding's table, with the table each is attached to
  // (regclass text: schema-qualified and quoted as needed). Empty when not partitioned.
  Result<std::vector<TablePart>> Parts(const Binding& binding) override {
    static const char* kSql =
        "SELECT t.relid::regclass::text, t.parentrelid::regclass::text "
        "FROM pg_partition_tree(to_regclass($1)) t JOIN pg_catalog.pg_class c ON c.oid = t.relid "
        "WHERE t.isleaf AND t.level > 0 AND c.relkind = 'r' ORDER BY 1";
    std::vector<TablePart> out;
    Status s = Query(kSql, {QuoteIdentifier(binding.table)}, [&](const Row& r) {
      out.push_back({r[0].value_or(""), r[1].value_or("")});
      return true;
    });
    if (!s.ok()) return s;
    return out;
  }

 protected:
  SqlDialect dialect() const override { return SqlDialect{SqlDialect::Kind::kPostgres}; }

  Status Exec(const std::string& sql, const std::vector<Value>& params) override {
    if (Status s = Connected(); !s.ok()) return s;
    std::vector<const char*> values = Values(params);
    pg::ResultPtr res(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                   nullptr, nullptr, 0));
    if (!res) return ConnectionError("a statement was not sent");
    ExecStatusType st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
      return ResultError(res.get(), "statement failed");
    return Status::Ok();
  }

  Status Query(const std::string& sql, const std::vector<Value>& params,
               const std::function<bool(const Row&)>& row) override {
    if (Status s = Connected(); !s.ok()) return s;
    // Inside a transaction a cancelled statement would abort it: there the rest of the
    // rows are read and dropped instead.
    bool in_transaction = PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
    std::vector<const char*> values = Values(params);
    if (!PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                           0))
      return ConnectionError("a statement was not sent");
    // One row per result, so that a large scan is streamed rather than held in memory.
    PQsetSingleRowMode(conn_.get());
    Status status;
    bool stopped = false, cancelled = false;
    Row r;
    while (pg::ResultPtr owned{PQgetResult(conn_.get())}) {
      const PGresult* res = owned.get();
      ExecStatusType st = PQresultStatus(res);
      if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
        int rows = PQntuples(res), columns = PQnfields(res);
        for (int i = 0; i < rows && !stopped && status.ok(); ++i) {
          r.assign(static_cast<size_t>(columns), std::nullopt);
          for (int c = 0; c < columns; ++c)
            if (!PQgetisnull(res, i, c))
              r[static_cast<size_t>(c)] = std::string(PQgetvalue(res, i, c), static_cast<size_t>(PQgetlength(res, i, c)));
          if (!row(r)) stopped = true;
        }
        if (stopped && st == PGRES_SINGLE_TUPLE && !in_transaction && !cancelled) cancelled = Cancel();
      } else if (st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY) {
        const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        bool our_cancel = cancelled && state && std::strcmp(state, kQueryCanceled) == 0;
        if (!our_cancel && status.ok()) status = ResultError(res, "statement failed");
      }
    }
    if (status.ok() && PQstatus(conn_.get()) != CONNECTION_OK) status = ConnectionError("the connection was lost");
    return status;
  }

  Status Begin() override { return Exec("BEGIN", {}); }
  Status LockForDdl() override { return Exec("SELECT pg_advisory_xact_lock(7305280010)", {}); }

  Status Commit() override {
    if (Status s = Connected(); !s.ok()) return s;
    pg::ResultPtr res(PQexec(conn_.get(), "COMMIT"));
    if (!res) return ConnectionError("COMMIT was not sent");
    if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return ResultError(res.get(), "commit failed");
    // COMMIT of a transaction that failed earlier succeeds as a ROLLBACK.
    if (std::strcmp(PQcmdStatus(res.get()), "ROLLBACK") == 0)
      return Status::IoError(
          fmt::format("postgres store '{}': the transaction had failed and was rolled back", config_.name));
    return Status::Ok();
  }

  void Rollback() override {
    if (!conn_) return;
    PGTransactionStatusType t = PQtransactionStatus(conn_.get());
    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR) pg::ResultPtr(PQexec(conn_.get(), "ROLLBACK"));
  }

  Result<bool> TableExists(const std::string& table) override {
    bool found = false;
    Status s = Query("SELECT to_regclass($1) IS NOT NULL", {QuoteIdentifier(table)}, [&](const Row& r) {
      found = r[0].value_or("f") == "t";
      return true;
    });
    if (!s.ok()) return s;
    return found;
  }

 private:
  // Where the connection string comes from, for messages (never the string itself).
  std::string Source() const {
    return config_.dsn_env.empty() ? fmt::format("in dsn_file {}", config_.dsn_file)
                                   : fmt::format("in ${}", config_.dsn_env);
  }

  Result<std::string> ReadConnectionString() const {
    if (!config_.dsn_env.empty()) {
      const char* v = std::getenv(config_.dsn_env.c_str());
      if (!v || !*v)
        return Status::FailedPrecondition(fmt::format(
            "postgres store '{}': the environment variable {} (dsn_env) is not set", config_.name, config_.dsn_env));
      return std::string(v);
    }
    if (config_.dsn_file.empty())
      return Status::InvalidArgument(
          fmt::format("postgres store '{}': needs dsn_env or dsn_file for its connection string", config_.name));
    auto text = ReadSecretFile(config_.dsn_file);  // the engine's one secret-file reader
    if (!text.ok())
      return Status(text.status().code() == Status::Code::kFailedPrecondition
                        ? Status::FailedPrecondition(fmt::format("postgres store '{}': dsn_file {}", config_.name,
                                                                 text.status().message()))
                        : Status::IoError(fmt::format("postgres store '{}': dsn_file {}", config_.name,
                                                      text.status().message())));
    return text;
  }

  static std::vector<const char*> Values(const std::vector<Value>& params) {
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i]) values[i] = params[i]->c_str();
    return values;
  }

  Status Connected() const {
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK)
      return Status::IoError(fmt::format("postgres store '{}': not connected", config_.name));
    return Status::Ok();
  }

  // Asks the server to stop the running statement; true when the request was sent.
  bool Cancel() {
    pg::Cancel cancel(PQgetCancel(conn_.get()));
    if (!cancel) return false;
    char error[256];
    return PQcancel(cancel.get(), error, sizeof error) == 1;
  }

  // The message names the store and the server's primary message with its SQLSTATE; it
  // never includes the parameters, nor any data value the server quotes (a DETAIL line,
  // an "invalid input syntax" value): see WithoutValues.
  Status ResultError(const PGresult* res, const char* what) const {
    const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string reason = WithoutValues(primary ? std::string(primary) : PQresultErrorMessage(res));
    if (reason.empty()) reason = WithoutValues(PQerrorMessage(conn_.get()));
    return Status::IoError(fmt::format("postgres store '{}': {}: {}{}", config_.name, what, reason,
                                       state ? fmt::format(" (SQLSTATE {})", state) : ""));
  }

  Status ConnectionError(const char* what) const {
    return Status::IoError(
        fmt::format("postgres store '{}': {}: {}", config_.name, what, TrimRight(PQerrorMessage(conn_.get()))));
  }

  friend class PostgresState;
  StoreConfig config_;
  pg::Connection conn_;
};

// The state database on PostgreSQL (state_backend.h), in its own schema (`schema:`,
// retention_state by default), so that several instances on several hosts share one audit chain.
// Transaction-level advisory locks keep the chain whole: a write (runs, holds, locks)
// takes the holds and chain locks exclusively; an applied batch holds the holds lock
// shared (no hold is placed while a batch that read the holds is open) and takes the
// chain lock only to append its entry. The run lock is a session-level advisory lock,
// released by the server when a dead instance's connection closes.
class PostgresState : public StateBackend {
 public:
  explicit PostgresState(StoreConfig config) : c_(config) {
    auto named = config.options.find("schema");
    schema_ = named == config.options.end() || named->second.empty() ? "retention_state" : named->second;
    // The advisory locks are per database: each state schema has its own three keys.
    uint64_t h = 1469598103934665603ULL;  // FNV-1a of the schema name
    for (unsigned char ch : schema_) h = (h ^ ch) * 1099511628211ULL;
    int64_t base = static_cast<int64_t>((h >> 8) & 0x00FFFFFFFFFFFFF0ULL);
    auto lease = config.options.find("lease_seconds");
    int seconds = lease == config.options.end() ? 0 : std::atoi(lease->second.c_str());
    idle_seconds_ = std::max(60, seconds);
    run_lock_ = base + 1;
    holds_lock_ = base + 2;
    chain_lock_ = base + 3;
  }
  ~PostgresState() override { UnlockRun(); }

  Status Open() {
    if (Status s = c_.Open(); !s.ok()) return s;
    if (Status s = c_.Exec(fmt::format("SET search_path = \"{}\"", schema_), {}); !s.ok()) return s;
    // A stopped or cut-off instance inside a batch holds the holds lock (shared) and its
    // lease row: the server ends its transaction after this long, so that holds can be
    // placed and the other instances go on (its batch is then recovered from the store's
    // journal by the next run, as after a kill).
    return c_.Exec(fmt::format("SET idle_in_transaction_session_timeout = '{}s'", idle_seconds_), {});
  }

  std::string Label() const override { return "PostgreSQL state database"; }

  Status Prepare() override {
    const std::string create = fmt::format("CREATE SCHEMA IF NOT EXISTS \"{}\"", schema_);
    const char* kSchema[] = {
        create.c_str(),
        "CREATE TABLE IF NOT EXISTS runs (id BIGSERIAL PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT, "
        "as_of TEXT NOT NULL, policy_hash TEXT NOT NULL, config_hash TEXT NOT NULL, status TEXT NOT NULL, counts TEXT)",
        "CREATE TABLE IF NOT EXISTS holds (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, "
        "binding TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL, author TEXT NOT NULL DEFAULT '', "
        "created_at TEXT NOT NULL, released_at TEXT, release_reason TEXT, release_author TEXT)",
        "CREATE TABLE IF NOT EXISTS audit (id BIGINT PRIMARY KEY, run_id BIGINT NOT NULL, time TEXT NOT NULL, "
        "kind TEXT NOT NULL, binding TEXT NOT NULL, rule_id TEXT NOT NULL, action TEXT NOT NULL, count BIGINT NOT NULL, "
        "key_digests TEXT NOT NULL, policy_hash TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, "
        "hash TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS audit_kind ON audit (kind)",
        "CREATE INDEX IF NOT EXISTS audit_run ON audit (run_id)",
        "CREATE TABLE IF NOT EXISTS policy_versions (rowid BIGSERIAL, id TEXT PRIMARY KEY, first_used TEXT NOT NULL, "
        "vocabulary TEXT NOT NULL, files TEXT NOT NULL, mac TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS policy_sets (rowid BIGSERIAL, policy_hash TEXT PRIMARY KEY, version TEXT NOT NULL, "
        "first_used TEXT NOT NULL, plans BIGINT NOT NULL DEFAULT 0, last_planned TEXT, mac TEXT NOT NULL)",
        // The work table of lease-sharded runs (StateDb::ClaimBinding).
        "CREATE TABLE IF NOT EXISTS leases (binding TEXT PRIMARY KEY, owner TEXT, expires_at TIMESTAMPTZ, "
        "done_as_of TEXT, run_id BIGINT)",
    };
    // Already created (in one transaction, leases last): nothing to lock, so that reading
    // commands never wait for a batch in progress.
    bool ready = false;
    Status found = c_.Query(fmt::format("SELECT to_regclass('\"{}\".leases') IS NOT NULL", schema_), {},
                            [&](const Row& r) {
                              ready = r[0].value_or("f") == "t";
                              return true;
                            });
    if (!found.ok()) return found;
    if (ready) return Status::Ok();
    // Instances starting together would race on CREATE ... IF NOT EXISTS.
    if (Status s = Begin(Txn::kWrite); !s.ok()) return s;
    for (const char* statement : kSchema)
      if (Status s = c_.Exec(statement, {}); !s.ok()) {
        Rollback();
        return s;
      }
    return Commit();
  }

  Status Query(const std::string& sql, const std::vector<Value>& params,
               const std::function<void(const Row&)>& row) override {
    return c_.Query(Numbered(sql), params, [&](const Row& r) {
      row(r);
      return true;
    });
  }
  Status Exec(const std::string& sql, const std::vector<Value>& params) override { return c_.Exec(Numbered(sql), params); }

  Status Begin(Txn kind) override {
    if (kind == Txn::kRead) return c_.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", {});
    if (Status s = c_.Exec("BEGIN", {}); !s.ok()) return s;
    Status s = kind == Txn::kWrite
                   ? c_.Exec(fmt::format("SELECT pg_advisory_xact_lock({}), pg_advisory_xact_lock({})", holds_lock_,
                                         chain_lock_), {})
                   : c_.Exec(fmt::format("SELECT pg_advisory_xact_lock_shared({})", holds_lock_), {});
    if (!s.ok()) Rollback();
    return s;
  }
  Status LockChain() override { return c_.Exec(fmt::format("SELECT pg_advisory_xact_lock({})", chain_lock_), {}); }
  Status Commit() override { return c_.Commit(); }
  void Rollback() override { c_.Rollback(); }
  bool InTransaction() const override {
    return c_.conn_ && PQtransactionStatus(c_.conn_.get()) != PQTRANS_IDLE;
  }
  Result<int64_t> LastInsertId() override {
    int64_t id = 0;
    Status s = c_.Query("SELECT lastval()", {}, [&](const Row& r) {
      id = std::strtoll(r[0].value_or("0").c_str(), nullptr, 10);
      return true;
    });
    if (!s.ok()) return s;
    return id;
  }

  Status LockRun(bool shared) override {
    bool got = false;
    Status s = c_.Query(fmt::format("SELECT pg_try_advisory_lock{}({})", shared ? "_shared" : "", run_lock_), {},
                        [&](const Row& r) {
                          got = r[0].value_or("f") == "t";
                          return true;
                        });
    if (!s.ok()) return s;
    if (!got)
      return Status::FailedPrecondition(
          shared ? "an exclusive run (an approved plan, --binding, or a state without lease_seconds) holds the "
                   "PostgreSQL state database"
                 : "another run holds the PostgreSQL state database (runs sharing bindings by lease, or an exclusive "
                   "run: --binding, --approved, or a state without lease_seconds)");
    locked_ = shared ? 2 : 1;
    return Status::Ok();
  }
  void UnlockRun() override {
    if (locked_ && c_.conn_ && PQstatus(c_.conn_.get()) == CONNECTION_OK)
      c_.Exec(fmt::format("SELECT pg_advisory_unlock{}({})", locked_ == 2 ? "_shared" : "", run_lock_), {});
    locked_ = 0;
  }
  bool Shared() const override { return true; }

 private:

  // StateDb writes `?` placeholders; libpq wants $1, $2... (never inside a quoted literal).
  static std::string Numbered(const std::string& sql) {
    std::string out;
    out.reserve(sql.size() + 8);
    int n = 0;
    bool quoted = false;
    for (char ch : sql) {
      if (ch == '\'') quoted = !quoted;
      if (ch == '?' && !quoted) out += fmt::format("${}", ++n);
      else out += ch;
    }
    return out;
  }

  PostgresConnector c_;
  std::string schema_;  // a plain identifier (checked when the configuration is read)
  int idle_seconds_ = 60;
  // Advisory lock keys (one bigint space per database, so derived from the schema).
  int64_t run_lock_ = 0, holds_lock_ = 0, chain_lock_ = 0;
  int locked_ = 0;  // 1 exclusive, 2 shared
};

}  // namespace

Result<std::unique_ptr<StateBackend>> OpenPostgresState(const StoreConfig& state) {
  auto s = std::make_unique<PostgresState>(state);
  if (Status o = s->Open(); !o.ok()) return o;
  return std::unique_ptr<StateBackend>(std::move(s));
}

Result<std::unique_ptr<Connector>> OpenPostgresConnector(const StoreConfig& store) {
  auto c = std::make_unique<PostgresConnector>(store);
  if (Status s = c->Open(); !s.ok()) return s;
  return std::unique_ptr<Connector>(std::move(c));
}

void RegisterPostgresConnector(ConnectorRegistry& registry) {
  registry.Register("postgres", OpenPostgresConnector);
  registry.RegisterState("postgres", OpenPostgresState);
}

}  // namespace retention
