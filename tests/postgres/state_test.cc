// The state database on PostgreSQL (docs/scaling.md): runs, holds and the keyed audit
// chain in a schema of the server, shared by several connections, and the leases that
// divide the bindings between instances.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_session.h"
#include "postgres/postgres_connector.h"
#include "retention/state.h"
#include "retention/state_backend.h"

namespace {

using namespace retention;
using retention::testing::PgSession;
using retention::testing::RequireOk;
using retention::testing::ValueOf;

const char* kKey = "k3y-for-the-postgres-state-tests";

// A StateDb on its own connection, in `schema` of the test server.
StateDb OpenState(const std::string& schema, const std::string& key = kKey) {
  StoreConfig config;
  config.name = "state";
  config.type = "postgres";
  config.dsn_env = "RETENTION_TEST_PG";
  config.options["schema"] = schema;
  return ValueOf(StateDb::Open(ValueOf(OpenPostgresState(config)), key));
}

Date D(const char* text) { return *Date::Parse(text); }

using Claim = std::optional<std::string>;

}  // namespace

TEST_CASE("postgres state: runs and holds and the keyed chain are shared by connections and verify and an edit is found",
          "[postgres][state]") {
  PgSession db;
  StateDb a = OpenState(db.schema());
  StateDb b = OpenState(db.schema());
  CHECK(a.Shared());

  int64_t run = ValueOf(a.BeginRun(D("2025-03-01"), "policy-hash", "config-hash", "running"));
  int64_t hold = ValueOf(b.AddHold(OperatorHold::Kind::kSubject, "1800101000001", "", "contentieux en cours", "dpo"));
  RequireOk(a.Record(run, "assumptions", "F01.droits", "{}"));
  RequireOk(a.EndRun(run, "done", "{}"));
  RequireOk(b.ReleaseHold(hold, "décision définitive", "dpo"));

  // Each connection sees the other's entries, in one chain.
  auto from_a = ValueOf(a.VerifyAudit());
  auto from_b = ValueOf(b.VerifyAudit());
  INFO(from_a.problem);
  CHECK(from_a.ok);
  CHECK(from_b.ok);
  CHECK(from_a.entries >= 5);
  CHECK(from_a.head == from_b.head);
  CHECK(ValueOf(b.Runs()).size() == 1);
  CHECK(ValueOf(a.Holds(true)).size() == 1);

  SECTION("a count rewritten in the server is found") {
    db.Exec(fmt::format("UPDATE {} SET count = count + 1 WHERE id = 2", db.T("audit")));
    auto v = ValueOf(a.VerifyAudit());
    CHECK(!v.ok);
    CHECK(v.first_bad_id == 2);
  }
  SECTION("an entry removed from the middle is found") {
    db.Exec(fmt::format("DELETE FROM {} WHERE id = 2", db.T("audit")));
    auto v = ValueOf(b.VerifyAudit());
    CHECK(!v.ok);
    CHECK(v.first_bad_id <= 3);
  }
  SECTION("a chain written under another key does not verify") {
    StateDb other = OpenState(db.schema(), "another-key-entirely");
    CHECK(!ValueOf(other.VerifyAudit()).ok);
  }
}

TEST_CASE("postgres state: leases give each binding to one instance and expire and completed bindings stay done",
          "[postgres][state][leases]") {
  PgSession db;
  StateDb a = OpenState(db.schema());
  StateDb b = OpenState(db.schema());
  const std::vector<std::string> bindings{"F01.droits", "F05.prestations"};
  const Date day = D("2025-03-01");

  CHECK(ValueOf(a.ClaimBinding(bindings, day, "host-a", 60)) == Claim("F01.droits"));
  CHECK(ValueOf(b.ClaimBinding(bindings, day, "host-b", 60)) == Claim("F05.prestations"));
  CHECK(ValueOf(a.ClaimBinding(bindings, day, "host-a", 60)) == Claim());  // both held

  CHECK(ValueOf(a.RenewLease("F01.droits", "host-a", 60)));
  CHECK(!ValueOf(b.RenewLease("F01.droits", "host-b", 60)));  // not its lease

  // A done binding is not claimed again for the same date; the next date it is.
  RequireOk(a.ReleaseLease("F01.droits", "host-a", day, true, 7));
  CHECK(ValueOf(b.ClaimBinding({"F01.droits"}, day, "host-b", 60)) == Claim());
  CHECK(db.Column(fmt::format("SELECT run_id FROM {} WHERE binding = 'F01.droits'", db.T("leases"))) ==
        std::vector<std::string>{"7"});
  CHECK(ValueOf(b.ClaimBinding({"F01.droits"}, D("2025-03-02"), "host-b", 60)) == Claim("F01.droits"));

  // A binding given back unfinished is claimed again the same day.
  RequireOk(b.ReleaseLease("F05.prestations", "host-b", day, false, 0));
  CHECK(ValueOf(a.ClaimBinding(bindings, day, "host-a", 60)) == Claim("F05.prestations"));

  // A lease past its expiry that nobody claimed since is still its owner's (a long
  // verification, a slow scan): renewing it works.
  db.Exec(fmt::format("UPDATE {} SET expires_at = now() - interval '1 second' WHERE binding = 'F05.prestations'",
                      db.T("leases")));
  CHECK(ValueOf(a.RenewLease("F05.prestations", "host-a", 60)));
  // A dead instance's lease expires: another claims it, and the first has lost it.
  db.Exec(fmt::format("UPDATE {} SET expires_at = now() - interval '1 second' WHERE binding = 'F05.prestations'",
                      db.T("leases")));
  CHECK(ValueOf(b.ClaimBinding(bindings, day, "host-b", 60)) == Claim("F05.prestations"));
  CHECK(!ValueOf(a.RenewLease("F05.prestations", "host-a", 60)));
}

TEST_CASE("postgres state: a batch holds its binding's lease until it commits even past expiry and a lost lease stops the next",
          "[postgres][state][leases]") {
  PgSession db;
  StateDb a = OpenState(db.schema());
  StateDb b = OpenState(db.schema());
  const Date day = D("2025-03-01");
  REQUIRE(ValueOf(a.ClaimBinding({"F01.droits"}, day, "host-a", 1)) == Claim("F01.droits"));
  a.FenceBatches("F01.droits", "host-a", 1);

  RequireOk(a.BeginBatch());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the lease has expired, the batch is still open
  CHECK(ValueOf(b.ClaimBinding({"F01.droits"}, day, "host-b", 60)) == Claim());
  RequireOk(a.CommitBatch());
  CHECK(!a.LeaseLost());

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(ValueOf(b.ClaimBinding({"F01.droits"}, day, "host-b", 60)) == Claim("F01.droits"));
  Status next = a.BeginBatch();
  CHECK(!next.ok());
  CHECK(a.LeaseLost());
  CHECK(next.message().find("lease of binding F01.droits was lost") != std::string::npos);
  a.FenceBatches("", "", 0);
  CHECK(!a.LeaseLost());
}

TEST_CASE("postgres state: lease-sharded runs share the run lock but an exclusive run does not and schemas are apart",
          "[postgres][state][leases]") {
  PgSession db;
  PgSession other;
  StateDb a = OpenState(db.schema());
  StateDb b = OpenState(db.schema());
  StateDb c = OpenState(db.schema());
  StateDb apart = OpenState(other.schema());

  RequireOk(a.LockForRun(/*shared=*/true));
  RequireOk(b.LockForRun(/*shared=*/true));
  Status exclusive = c.LockForRun(false);
  CHECK(!exclusive.ok());
  CHECK(exclusive.message().find("holds the PostgreSQL state database") != std::string::npos);
  RequireOk(apart.LockForRun(false));  // another schema, other lock keys
  a.Unlock();
  b.Unlock();
  RequireOk(c.LockForRun(false));
  CHECK(!a.LockForRun(true).ok());
  c.Unlock();
  apart.Unlock();
}
