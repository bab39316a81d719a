// A service that stores, with each record it writes, the day the record may be purged:
// the engine computes it from the record's facts (F02.droits), so that the nightly job,
// or a plain indexed query, can find what is due. When the policies change (a duration
// shortened, an anchor corrected), every stored date may be wrong: `recompute` computes
// them again from the facts, with the policy-set hash that produced them.
//
//   embed DB insert ID fin_droits=YYYY-MM-DD [contentieux=true|false] [decision_definitive=YYYY-MM-DD]
//   embed DB recompute
//   embed DB changes OLD_POLICY_DIR   (whether the rule's meaning changed: recompute or not)
//   embed DB list
#include <sqlite3.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "retention/clock.h"
#include "retention/evaluator.h"
#include "retention/policy.h"
#include "retention/policy_change.h"
#include "retention/version.h"

namespace {

constexpr const char* kRule = "F02.droits";
constexpr const char* kFacts[] = {"fin_droits", "contentieux", "decision_definitive"};

// The first day the record may be deleted, or nullopt when the engine cannot say yet (a
// fact is unknown, a hold applies; `why` says which): such a record is never purged by
// date alone. An error for facts that are not facts of the vocabulary, or of the wrong type.
retention::Result<std::optional<std::string>> PurgeAfter(const retention::PolicySet& set,
                                                         const std::map<std::string, std::string>& text,
                                                         std::string* why) {
  auto facts = retention::ParseFacts(set.vocabulary, text);
  if (!facts.ok()) return facts.status();
  auto e = retention::EvaluateRule(set, kRule, *facts, retention::SystemClock().Today());
  if (!e.ok()) return e.status();
  for (const auto& entry : e->timeline)
    if (entry.action == retention::Phase::kDelete) return std::optional<std::string>(entry.from.ToString());
  *why = retention::EvalStatusName(e->status);
  for (const auto& m : e->missing) *why += " " + m;
  return std::optional<std::string>();
}

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
  bool Exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK; }
};

// Writes one record's facts and its purge_after (NULL when unknown) in one statement.
bool Store(Db& db, const std::string& id, const std::map<std::string, std::string>& facts,
           const std::optional<std::string>& purge_after, const std::string& policy_hash) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db.db,
                     "INSERT OR REPLACE INTO records (id, fin_droits, contentieux, decision_definitive, purge_after, "
                     "policy_hash) VALUES (?, ?, ?, ?, ?, ?)", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  for (int i = 0; i < 3; ++i) {
    auto it = facts.find(kFacts[i]);
    if (it == facts.end()) sqlite3_bind_null(st, i + 2);
    else sqlite3_bind_text(st, i + 2, it->second.c_str(), -1, SQLITE_TRANSIENT);
  }
  if (purge_after) sqlite3_bind_text(st, 5, purge_after->c_str(), -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 5);
  sqlite3_bind_text(st, 6, policy_hash.c_str(), -1, SQLITE_TRANSIENT);
  bool ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok;
}

int Insert(Db& db, const retention::PolicySet& set, int argc, char** argv) {
  std::map<std::string, std::string> facts;
  for (int i = 4; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq == std::string::npos) return std::cerr << "expected NAME=VALUE, got " << a << "\n", 2;
    facts[a.substr(0, eq)] = a.substr(eq + 1);
  }
  std::string why;
  auto purge_after = PurgeAfter(set, facts, &why);
  // A typo in a fact name or a value of the wrong type never reaches the table.
  if (!purge_after.ok()) return std::cerr << "refused: " << purge_after.status().message() << "\n", 2;
  if (!Store(db, argv[3], facts, *purge_after, set.hash)) return std::cerr << sqlite3_errmsg(db.db) << "\n", 1;
  std::cout << argv[3] << ": purge_after " << purge_after->value_or("NULL (" + why + ")") << "\n";
  return 0;
}

// Every record again, from its stored facts, under the policies loaded now.
int Recompute(Db& db, const retention::PolicySet& set) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db.db, "SELECT id, fin_droits, contentieux, decision_definitive FROM records ORDER BY id", -1, &st,
                     nullptr);
  std::map<std::string, std::map<std::string, std::string>> rows;
  while (sqlite3_step(st) == SQLITE_ROW)
    for (int i = 0; i < 3; ++i)
      if (auto v = sqlite3_column_text(st, i + 1))
        rows[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))][kFacts[i]] = reinterpret_cast<const char*>(v);
      else
        rows[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))];
  sqlite3_finalize(st);
  db.Exec("BEGIN IMMEDIATE");
  for (const auto& [id, facts] : rows) {
    std::string why;
    auto purge_after = PurgeAfter(set, facts, &why);  // stored facts were checked at insert
    if (!purge_after.ok() || !Store(db, id, facts, *purge_after, set.hash)) return db.Exec("ROLLBACK"), 1;
  }
  db.Exec("COMMIT");
  std::cout << "recomputed " << rows.size() << " record(s) under " << set.hash << "\n";
  return 0;
}

// After a policy change: whether the stored dates need recomputing. A change of
// formatting, comments or quoted text does not; a change of meaning of the rule does.
int Changes(const std::string& old_dir, const retention::PolicySet& set) {
  retention::LoadResult old = retention::LoadPolicies(old_dir);
  if (retention::HasErrors(old.diagnostics)) return std::cerr << "cannot load " << old_dir << "\n", 2;
  retention::PolicyDiff diff = retention::DiffPolicies(old.policies, set);
  std::vector<std::string> rules = diff.RulesToRecompute();
  bool changed = std::find(rules.begin(), rules.end(), kRule) != rules.end();
  std::cout << kRule << (changed ? ": changed in meaning, run recompute\n" : ": unchanged in meaning\n");
  return 0;
}

int List(Db& db) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db.db, "SELECT id, COALESCE(purge_after, 'NULL') FROM records ORDER BY id", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW)
    std::cout << sqlite3_column_text(st, 0) << " " << sqlite3_column_text(st, 1) << "\n";
  sqlite3_finalize(st);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc >= 3 ? argv[2] : "";
  if ((command != "insert" || argc < 4) && (command != "changes" || argc < 4) && command != "recompute" &&
      command != "list") {
    std::cerr << "usage: embed DB insert ID NAME=VALUE... | embed DB recompute | embed DB changes OLD_POLICY_DIR | "
                 "embed DB list\n"
              << "(engine " << retention::Version() << ")\n";
    return 2;
  }
  // Load and compile the policies once, at start; the set is immutable and may be shared
  // by threads.
  retention::LoadResult loaded = retention::LoadPolicies(RETENTION_POLICIES_DIR);
  for (const auto& d : loaded.diagnostics) std::cerr << d.ToString() << "\n";
  if (retention::HasErrors(loaded.diagnostics)) return 2;

  Db db;
  if (sqlite3_open(argv[1], &db.db) != SQLITE_OK) return std::cerr << "cannot open " << argv[1] << "\n", 2;
  db.Exec("CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, fin_droits TEXT, contentieux TEXT, "
          "decision_definitive TEXT, purge_after TEXT, policy_hash TEXT)");
  db.Exec("CREATE INDEX IF NOT EXISTS records_purge_after ON records (purge_after)");
  if (command == "insert") return Insert(db, loaded.policies, argc, argv);
  if (command == "recompute") return Recompute(db, loaded.policies);
  if (command == "changes") return Changes(argv[3], loaded.policies);
  return List(db);
}
