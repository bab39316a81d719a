// The stores' journals: a change committed in a store before its audit entry (a run
// killed in between) is recorded by the next run, exactly once; raw keys never reach
// the journal. Real SQLite files; the crash is the state commit never happening.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "retention/connectors.h"
#include "retention/plan.h"
#include "retention/recover.h"
#include "retention/state.h"
#include "support/droits_config.h"
#include "support/shipped.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;

namespace {

struct JournalEnv {
  TempDir dir;
  DeploymentLoad load;
  std::optional<Stores> stores;
  std::optional<StateDb> state;

  JournalEnv() {
    {
      SqliteDb db(dir / "main.db");
      db.Exec("CREATE TABLE prestations (id INTEGER PRIMARY KEY, nir TEXT, date_versement DATE, montant REAL)");
      db.Exec("INSERT INTO prestations VALUES (1, '180017512345678', '2020-02-29', 10.5), "
              "(2, '280027512345612', '2023-06-30', 20), (3, '180017512345678', '2024-01-15', 30)");
    }
    load = LoadDeploymentText(R"(state: state.db
stores:
  main: {type: sqlite, path: main.db}
  archive: {type: sqlite, path: archive.db}
bindings:
  - rule: F05.prestations
    store: main
    table: prestations
    key: id
    subject: nir
    facts: {date_versement: date_versement}
    archive: {store: archive, table: prestations_archive}
)",
                              "deploy.yaml", dir.path().string(), Shipped());
    REQUIRE_FALSE(HasErrors(load.diagnostics));
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto s = Stores::Open(load.deployment, registry);
    REQUIRE(s.ok());
    stores.emplace(std::move(*s));
    auto st = StateDb::Open(dir / "state.db", "audit key for the journal test");
    REQUIRE(st.ok());
    state.emplace(std::move(*st));
  }

  // A run whose process "dies" in `on_batch`: after the store committed the batch,
  // with (`audited`) or without the audit entry committed.
  void InterruptedRun(bool audited) {
    ExecuteOptions o;
    o.as_of = *Date::Parse("2026-11-22");
    o.apply = true;
    o.run_id = "run-7";
    StateDb* st = &*state;
    o.key_digest = [st](const std::string& k) { return st->Digest(k); };
    o.before_batch = [st] { return st->BeginBatch(); };
    o.on_batch = [st, audited](const AppliedBatch& batch) {
      if (audited) {
        REQUIRE(st->AppendAudit(7, batch, "policies").ok());
        REQUIRE(st->CommitBatch().ok());
      }
      return Status::IoError("killed");
    };
    auto plan = Execute(load.deployment, Shipped(), *stores, o);
    REQUIRE_FALSE(plan.ok());
    state->AbortBatch();  // what the kernel does to the dead process's transaction
  }

  // The journaled digests, in order (a row holds several, comma-separated).
  std::vector<std::string> Journal() {
    std::vector<std::string> out;
    for (const auto& row : SqliteDb(dir / "main.db").Column("SELECT key_digest FROM _retention_journal ORDER BY seq"))
      for (size_t start = 0; start <= row.size();) {
        size_t comma = std::min(row.find(',', start), row.size());
        out.push_back(row.substr(start, comma - start));
        start = comma + 1;
      }
    return out;
  }
};

}  // namespace

TEST_CASE("A batch the store committed but the audit never recorded is recorded by the next run", "[journal]") {
  JournalEnv env;
  env.InterruptedRun(false);
  CHECK(SqliteDb(env.dir / "main.db").Column("SELECT id FROM prestations") == std::vector<std::string>{"3"});
  REQUIRE(env.state->Audit(std::nullopt)->empty());
  // The journal holds the digests of the two archived keys, never the keys.
  std::vector<std::string> digests{env.state->Digest("1"), env.state->Digest("2")};
  CHECK(env.Journal() == digests);

  auto r = RecoverInterruptedBatches(env.load.deployment, *env.stores, &*env.state, "policies");
  REQUIRE(r.ok());
  CHECK(r->batches == 1);
  CHECK(r->recorded == 1);
  CHECK(r->records == 2);
  auto entries = env.state->Audit(7);
  REQUIRE(entries->size() == 1);
  CHECK(entries->front().binding == "F05.prestations");
  CHECK(entries->front().action == "archive");
  CHECK(entries->front().count == 2);
  CHECK(entries->front().key_digests == digests);
  CHECK(env.state->VerifyAudit()->ok);
  CHECK(env.Journal().empty());

  auto again = RecoverInterruptedBatches(env.load.deployment, *env.stores, &*env.state, "policies");
  REQUIRE(again.ok());
  CHECK(again->batches == 0);
  CHECK(env.state->Audit(std::nullopt)->size() == 1);
}

TEST_CASE("A batch whose audit entry was committed before the crash is not recorded twice", "[journal]") {
  JournalEnv env;
  env.InterruptedRun(true);
  REQUIRE(env.state->Audit(std::nullopt)->size() == 1);
  CHECK(env.Journal().size() == 2);  // the crash came before the journal was dropped
  auto r = RecoverInterruptedBatches(env.load.deployment, *env.stores, &*env.state, "policies");
  REQUIRE(r.ok());
  CHECK(r->batches == 1);
  CHECK(r->recorded == 0);
  CHECK(env.state->Audit(std::nullopt)->size() == 1);
  CHECK(env.Journal().empty());
}

TEST_CASE("A journaled batch for a binding the configuration lost stops the run", "[journal]") {
  JournalEnv env;
  env.InterruptedRun(false);
  DeploymentLoad other = LoadDeploymentText(kDroitsOnSqlite, "deploy.yaml", env.dir.path().string(), Shipped());
  REQUIRE_FALSE(HasErrors(other.diagnostics));
  auto r = RecoverInterruptedBatches(other.deployment, *env.stores, &*env.state, "policies");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("F05.prestations"));
  CHECK(env.Journal().size() == 2);  // nothing dropped
}

TEST_CASE("A batch journaled by another deployment sharing the store is left for that deployment", "[journal]") {
  JournalEnv env;
  env.InterruptedRun(false);
  // Another deployment: the same store and binding names, its own state and audit key.
  auto other = StateDb::Open(env.dir / "other-state.db", "another deployment's audit key");
  REQUIRE(other.ok());
  auto r = RecoverInterruptedBatches(env.load.deployment, *env.stores, &*other, "policies");
  REQUIRE(r.ok());
  CHECK(r->foreign == 1);
  CHECK(r->batches == 0);
  CHECK(r->recorded == 0);
  CHECK(other->Audit(std::nullopt)->empty());  // never recorded in the wrong audit
  CHECK(env.Journal().size() == 2);            // nor dropped

  auto mine = RecoverInterruptedBatches(env.load.deployment, *env.stores, &*env.state, "policies");
  REQUIRE(mine.ok());
  CHECK(mine->foreign == 0);
  CHECK(mine->recorded == 1);
  CHECK(env.Journal().empty());
}

TEST_CASE("A journal written before owners were recorded is still recovered and gains the owner column", "[journal]") {
  JournalEnv env;
  std::string d1 = env.state->Digest("1"), d2 = env.state->Digest("2");
  {
    SqliteDb db(env.dir / "main.db");
    db.Exec("CREATE TABLE \"_retention_journal\" (batch TEXT NOT NULL, seq INTEGER NOT NULL, run_id TEXT NOT NULL, "
            "binding TEXT NOT NULL, action TEXT NOT NULL, key_digest TEXT NOT NULL, PRIMARY KEY (batch, seq))");
    db.Exec(fmt::format("INSERT INTO \"_retention_journal\" VALUES ('run-3:F05.prestations:1', 0, 'run-3', "
                        "'F05.prestations', 'archive', '{},{}')",
                        d1, d2));
  }
  auto other = StateDb::Open(env.dir / "other-state.db", "another deployment's audit key");
  REQUIRE(other.ok());
  // Without an owner the batch is taken as before (a binding unknown to the deployment stops it).
  auto r = RecoverInterruptedBatches(env.load.deployment, *env.stores, &*env.state, "policies");
  REQUIRE(r.ok());
  CHECK(r->foreign == 0);
  CHECK(r->recorded == 1);
  CHECK(env.state->Audit(3)->front().key_digests == std::vector<std::string>{d1, d2});

  // The next journaled batch adds the column and names its deployment.
  env.InterruptedRun(false);
  CHECK(SqliteDb(env.dir / "main.db").Column("SELECT DISTINCT owner FROM _retention_journal") ==
        std::vector<std::string>{env.state->Digest(kJournalOwner)});
}
