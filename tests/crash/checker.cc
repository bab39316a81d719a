// The crash harness's checker (tests/crash/run.sh), linked to the engine.
//
//   crash_checker snapshot CONFIG AS_OF OUT.json
//       what is due as of AS_OF (a dry-run plan, every record), the contents of every
//       bound table and directory, and the audit chain's length
//   crash_checker check CONFIG BEFORE.json [--final CLEAN.json] [--in-window] [--quiet]
//       compares the stores and the audit entries appended since BEFORE with BEFORE:
//       prints one line per violation ("invariant<TAB>detail"), then a summary line
//       "violations changed_not_due=N ...". With --final, the stores must also equal
//       CLEAN (a snapshot taken after an uninterrupted run), and no record may be left
//       both in its source and in its archive. With --in-window, changes not audited
//       yet are counted as `in_window`, not as violations (see Checker). Exit 0: none,
//       1: violations, 2: error.
//
// A row is compared as a JSON object of its columns (an archive row without its run_id,
// which names the run that copied it); a file as its size and mtime.
#ifdef RETENTION_CRASH_POSTGRES
#include <libpq-fe.h>
#endif
#include <openssl/hmac.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "retention/connectors.h"
#include "retention/run.h"
#include "retention/secrets.h"
#include "retention/state.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace retention::crash {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "crash_checker: " << message << "\n";
  std::exit(2);
}

std::string HmacHex(const std::string& key, const std::string& value) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(value.data()),
       value.size(), out, &n);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", out[i]);
  return hex;
}

struct Loaded {
  LoadResult policies;
  Deployment deployment;
  std::optional<Stores> stores;
};

std::unique_ptr<Loaded> Load(const std::string& config, bool open_stores) {
  auto out = std::make_unique<Loaded>();
  out->policies = LoadPolicies(DeploymentPoliciesDir(config));
  if (HasErrors(out->policies.diagnostics)) Fail("the policies have errors");
  DeploymentLoad load = LoadDeployment(config, out->policies.policies);
  if (HasErrors(load.diagnostics)) Fail("the configuration has errors: " + load.diagnostics.front().ToString());
  out->deployment = std::move(load.deployment);
  if (!open_stores) return out;  // a check reads the stores directly, read-only
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  auto stores = Stores::Open(out->deployment, registry);
  if (!stores.ok()) Fail(stores.status().message());
  out->stores.emplace(std::move(*stores));
  return out;
}

// Rows of a table, keyed by the key column; each row a JSON object of its columns.
json SqliteRows(const std::string& path, const std::string& table, const std::string& key) {
  json rows = json::object();
  sqlite3* db = nullptr;
  // Read-write (nothing is written): reading a database in WAL mode whose writer was
  // killed may need to recover its WAL index.
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(db);
    return rows;  // not created yet (an archive): no rows
  }
  sqlite3_busy_timeout(db, 10000);
  bool exists = false;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?", -1, &stmt, nullptr);
  sqlite3_bind_text(stmt, 1, table.c_str(), -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) exists = true;
  else if (rc != SQLITE_DONE) Fail(fmt::format("cannot read {}: {}", path, sqlite3_errmsg(db)));
  sqlite3_finalize(stmt);
  std::string sql = fmt::format("SELECT * FROM \"{}\"", table);
  if (exists) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      Fail(fmt::format("cannot read {} in {}: {}", table, path, sqlite3_errmsg(db)));
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      json row = json::object();
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* text = sqlite3_column_text(stmt, c);
        row[sqlite3_column_name(stmt, c)] = text ? json(reinterpret_cast<const char*>(text)) : json(nullptr);
      }
      if (row.contains(key) && row[key].is_string()) rows[row[key].get<std::string>()] = row;
    }
    if (rc != SQLITE_DONE) Fail(fmt::format("cannot read {} in {}: {}", table, path, sqlite3_errmsg(db)));
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db);
  return rows;
}

std::string PostgresDsn(const StoreConfig& store) {
  if (!store.dsn_env.empty()) {
    const char* v = std::getenv(store.dsn_env.c_str());
    if (!v) Fail("environment variable " + store.dsn_env + " is not set");
    return v;
  }
  std::ifstream in(store.dsn_file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json PostgresRows(const StoreConfig& store, const std::string& table, const std::string& key) {
  json rows = json::object();
#ifndef RETENTION_CRASH_POSTGRES
  Fail("built without PostgreSQL: cannot read " + table + " (" + store.name + ", key " + key + ")");
#else
  PGconn* conn = PQconnectdb(PostgresDsn(store).c_str());
  if (PQstatus(conn) != CONNECTION_OK) Fail("cannot connect to PostgreSQL");
  PQclear(PQexec(conn, "SET TimeZone = 'Europe/Paris'"));
  std::string quoted = "\"" + table + "\"";
  if (auto dot = table.find('.'); dot != std::string::npos)
    quoted = "\"" + table.substr(0, dot) + "\".\"" + table.substr(dot + 1) + "\"";
  PGresult* r = PQexec(conn, ("SELECT * FROM " + quoted).c_str());
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (PQresultStatus(r) != PGRES_TUPLES_OK && !(state && std::string(state) == "42P01"))  // 42P01: no such table
    Fail("cannot read " + table + ": " + PQresultErrorMessage(r));
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); ++i) {
      json row = json::object();
      for (int c = 0; c < PQnfields(r); ++c)
        row[PQfname(r, c)] = PQgetisnull(r, i, c) ? json(nullptr) : json(PQgetvalue(r, i, c));
      if (row.contains(key) && row[key].is_string()) rows[row[key].get<std::string>()] = row;
    }
  }
  PQclear(r);
  PQfinish(conn);
  return rows;
#endif
}

// Every regular file under the binding's directory (hidden entries excluded: a store's
// own bookkeeping), keyed by its relative path.
json FileRows(const StoreConfig& store, const std::string& sub) {
  json rows = json::object();
  fs::path root = sub.empty() ? fs::path(store.directory) : fs::path(store.directory) / sub;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename().string().rfind('.', 0) == 0) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    struct stat st {};
    if (stat(it->path().c_str(), &st) != 0) continue;
    rows[fs::relative(it->path(), root).generic_string()] =
        json{{"size", static_cast<int64_t>(st.st_size)}, {"mtime", static_cast<int64_t>(st.st_mtime)}};
  }
  return rows;
}

json Rows(const Deployment& d, const std::string& store_name, const std::string& table, const std::string& key) {
  const StoreConfig* store = d.FindStore(store_name);
  if (!store) Fail("unknown store " + store_name);
  if (store->type == "sqlite") return SqliteRows(store->path, table, key);
  if (store->type == "postgres") return PostgresRows(*store, table, key);
  return FileRows(*store, table);
}

// Per source binding: its rows and its archive's rows (the "@archive" view's table).
json Contents(const Deployment& d) {
  json out = json::object();
  for (const auto& b : d.bindings) {
    if (b.archived_view) continue;
    json entry{{"source", Rows(d, b.store, b.table, b.key)}};
    if (b.archive) {
      json archive = Rows(d, b.archive->store, b.archive->table, b.key);
      for (auto& [k, row] : archive.items()) row.erase("run_id");
      entry["archive"] = archive;
    }
    out[b.name] = entry;
  }
  return out;
}

std::string AuditKey(const Deployment& d) {
  auto key = LoadKey(d.audit_key_file, d.audit_key_env);
  if (!key.ok()) Fail("audit key: " + key.status().message());
  return *key;
}

std::vector<AuditEntry> AuditEntries(const Deployment& d) {
  auto state = StateDb::Open(d.state_path, AuditKey(d));
  if (!state.ok()) Fail(state.status().message());
  auto entries = state->Audit(std::nullopt);
  if (!entries.ok()) Fail(entries.status().message());
  return *entries;
}

int Snapshot(const std::string& config, const std::string& as_of_text, const std::string& out_path) {
  auto loaded = Load(config, true);
  auto as_of = Date::Parse(as_of_text);
  if (!as_of) Fail("bad date " + as_of_text);
  json due = json::object();
  RunOptions o;
  o.as_of = *as_of;
  o.on_record = [&](const Binding& b, const RawRecord& r, const Evaluation&, std::optional<Phase> action) {
    if (action) due[b.name][r.key] = PhaseName(*action);
  };
  auto plan = PlanOrRun(loaded->deployment, loaded->policies.policies, *loaded->stores, nullptr, o);
  if (!plan.ok()) Fail(plan.status().message());
  json snap{{"due", due}, {"contents", Contents(loaded->deployment)},
            {"audit_entries", AuditEntries(loaded->deployment).size()}};
  std::ofstream(out_path) << snap.dump() << "\n";
  return 0;
}

class Checker {
 public:
  // `in_window`: right after an interruption, before any run or `audit verify` could
  // record what the stores journaled: a change without its audit entry is then counted
  // as `in_window` (the interruption fell between a store's commit and the audit's).
  Checker(const Deployment& d, json before, json now, std::vector<AuditEntry> entries, bool quiet, bool in_window)
      : d_(d), before_(std::move(before)), now_(std::move(now)), quiet_(quiet),
        unaudited_(in_window ? "in_window" : "unaudited") {
    auto state = StateDb::Open(d.state_path, AuditKey(d));
    if (!state.ok()) Fail(state.status().message());
    size_t skip = before_["audit_entries"].get<size_t>();
    for (size_t i = skip; i < entries.size(); ++i) {
      const AuditEntry& e = entries[i];
      if (e.action != "delete" && e.action != "archive" && e.action != "pseudonymise") continue;
      for (const auto& digest : e.key_digests) ++audited_[{e.binding, e.action, digest}];
    }
    audit_key_ = AuditKey(d);
  }

  void Violation(const std::string& invariant, const std::string& detail) {
    ++counts_[invariant];
    if (!quiet_ && counts_[invariant] <= 5) std::cout << invariant << "\t" << detail << "\n";
  }

  std::string Due(const std::string& binding, const std::string& key) const {
    const json& due = before_["due"];
    if (!due.contains(binding) || !due[binding].contains(key)) return "";
    return due[binding][key].get<std::string>();
  }

  // The audit must list this change exactly once; the entry is then used up.
  void Audited(const std::string& binding, const std::string& action, const std::string& key) {
    auto it = audited_.find({binding, action, HmacHex(audit_key_, key)});
    if (it == audited_.end() || it->second == 0) {
      Violation(unaudited_, fmt::format("{} {}: a record changed with no audit entry", binding, action));
      return;
    }
    --it->second;
  }

  // A pseudonymised row: the listed columns replaced by their tokens, the nullified
  // ones NULL, the marker set, every other column as it was.
  bool FullyPseudonymised(const Binding& b, const json& was, const json& row) {
    const PseudonymiseSettings& p = *b.pseudonymise;
    auto key = LoadKey(p.key_file, p.key_env);
    if (!key.ok()) Fail("pseudonymisation key: " + key.status().message());
    std::set<std::string> touched(p.columns.begin(), p.columns.end());
    touched.insert(p.null_columns.begin(), p.null_columns.end());
    touched.insert(p.marker_column);
    for (const auto& c : p.columns)
      if (row[c] != (was[c].is_null() ? json(nullptr) : json(HmacHex(*key, was[c].get<std::string>())))) return false;
    for (const auto& c : p.null_columns)
      if (!row[c].is_null()) return false;
    if (row[p.marker_column].is_null()) return false;
    for (const auto& [c, v] : was.items())
      if (!touched.count(c) && row[c] != v) return false;
    return true;
  }

  void CheckSource(const Binding& b, const json& before, const json& now, const json& archive_now) {
    for (const auto& [key, was] : before.items()) {
      bool present = now.contains(key);
      if (present && now[key] == was) continue;
      std::string due = Due(b.name, key);
      if (due.empty()) {
        Violation("changed_not_due", fmt::format("{}: a record that was not due changed", b.name));
        continue;
      }
      if (present) {
        if (due != "pseudonymise" || !FullyPseudonymised(b, was, now[key]))
          Violation("half_pseudonymised", fmt::format("{}: a row changed but is not exactly pseudonymised", b.name));
        Audited(b.name, "pseudonymise", key);
        continue;
      }
      if (due == "archive") {
        if (!archive_now.contains(key)) Violation("archive_lost", fmt::format("{}: neither in source nor archive", b.name));
        else if (!SameArchived(was, archive_now[key]))
          Violation("archive_lost", fmt::format("{}: the archived row differs from the source row", b.name));
      } else if (due != "delete") {
        Violation("changed_not_due", fmt::format("{}: a record due for {} was removed", b.name, due));
        continue;
      }
      Audited(b.name, due, key);
    }
  }

  static bool SameArchived(const json& source, const json& archived) {
    for (const auto& [c, v] : source.items())
      if (!archived.contains(c) || archived[c] != v) return false;
    return true;
  }

  void CheckArchive(const Binding& b, const json& source_before, const json& before, const json& now) {
    std::string view = b.name + "@archive";
    for (const auto& [key, row] : now.items()) {
      if (before.contains(key)) {
        if (before[key] != row) Violation("changed_not_due", fmt::format("{}: an archived row changed", view));
        continue;
      }
      if (Due(b.name, key) != "archive" || !source_before.contains(key))
        Violation("changed_not_due", fmt::format("{}: a row appeared that was not due for archiving", b.name));
    }
    for (const auto& [key, was] : before.items()) {
      if (now.contains(key)) continue;
      if (Due(view, key) != "delete") Violation("changed_not_due", fmt::format("{}: a row not due was removed", view));
      else Audited(view, "delete", key);
    }
  }

  void Check() {
    for (const auto& b : d_.bindings) {
      if (b.archived_view) continue;
      const json& was = before_["contents"][b.name];
      const json& is = now_[b.name];
      json no_archive = json::object();
      CheckSource(b, was["source"], is["source"], b.archive ? is["archive"] : no_archive);
      if (b.archive) CheckArchive(b, was["source"], was["archive"], is["archive"]);
    }
    for (const auto& [entry, n] : audited_)
      if (n > 0) Violation("audited_not_changed", fmt::format("{} {}: an audit entry names a record that did not change",
                                                              std::get<0>(entry), std::get<1>(entry)));
  }

  // After a rerun: the stores equal those of an uninterrupted run; nothing in both.
  void CheckFinal(const json& clean) {
    for (const auto& b : d_.bindings) {
      if (b.archived_view) continue;
      for (const char* side : {"source", "archive"}) {
        if (!clean[b.name].contains(side)) continue;
        if (clean[b.name][side] != now_[b.name][side])
          Violation("rerun_differs", fmt::format("{} ({}): not what an uninterrupted run leaves", b.name, side));
      }
      if (b.archive)
        for (const auto& [key, row] : now_[b.name]["archive"].items())
          if (now_[b.name]["source"].contains(key))
            Violation("archived_twice", fmt::format("{}: a record is both in its source and its archive", b.name));
    }
  }

  int Report() const {
    std::string line = "violations";
    int total = 0;
    for (const char* name : {"changed_not_due", "archive_lost", "archived_twice", "half_pseudonymised", "unaudited",
                             "audited_not_changed", "rerun_differs"}) {
      int n = counts_.count(name) ? counts_.at(name) : 0;
      line += fmt::format(" {}={}", name, n);
      total += n;
    }
    int window = counts_.count("in_window") ? counts_.at("in_window") : 0;
    std::cout << line << fmt::format(" in_window={}", window) << "\n";
    return total ? 1 : 0;
  }

 private:
  const Deployment& d_;
  json before_, now_;
  bool quiet_;
  std::string unaudited_;
  std::string audit_key_;
  std::map<std::tuple<std::string, std::string, std::string>, int> audited_;
  std::map<std::string, int> counts_;
};

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) Fail("cannot read " + path);
  return j;
}

int Check(const std::string& config, const std::string& before_path, const std::string& final_path, bool quiet,
          bool in_window) {
  auto loaded = Load(config, false);
  json before = ReadJson(before_path);
  Checker c(loaded->deployment, before, Contents(loaded->deployment), AuditEntries(loaded->deployment), quiet,
            in_window);
  c.Check();
  if (!final_path.empty()) c.CheckFinal(ReadJson(final_path)["contents"]);
  return c.Report();
}

}  // namespace
}  // namespace retention::crash

int main(int argc, char** argv) {
  using namespace retention::crash;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "snapshot") return Snapshot(args[1], args[2], args[3]);
  if (args.size() >= 3 && args[0] == "check") {
    std::string final_path;
    bool quiet = false, in_window = false;
    for (size_t i = 3; i < args.size(); ++i) {
      if (args[i] == "--final" && i + 1 < args.size()) final_path = args[++i];
      else if (args[i] == "--quiet") quiet = true;
      else if (args[i] == "--in-window") in_window = true;
      else Fail("unknown argument " + args[i]);
    }
    return Check(args[1], args[2], final_path, quiet, in_window);
  }
  std::cerr << "usage: crash_checker snapshot CONFIG AS_OF OUT.json | check CONFIG BEFORE.json [--final CLEAN.json]\n";
  return 2;
}
