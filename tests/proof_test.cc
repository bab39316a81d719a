// The proof a run leaves: one keyed audit chain (runs, batches, holds, approvals,
// --allow-mass, policy and configuration changes) anchored outside the state database,
// forgeries detected by `audit verify`, signed certificates, and approved plans bound
// to the exact records they list. Real SQLite files and real runs of the CLI.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "state/audit_canonical.h"
#include "support/demo.h"
#include "support/process.h"

using namespace retention;
using namespace retention::testing;
namespace fs = std::filesystem;

namespace {

std::string Hex(const unsigned char* md, unsigned len) {
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::string PlainSha256(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

std::string HmacSha256(const std::string& key, const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), md, &len);
  return Hex(md, len);
}

std::string Quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// What a forger with write access to the state database does: drop entry `drop`,
// renumber the rest and recompute every hash with `hash`.
void RewriteChain(Demo& demo, int64_t drop, const std::function<std::string(const std::string&)>& hash) {
  auto entries = demo.state->Audit(std::nullopt);
  REQUIRE(entries.ok());
  SqliteDb db(demo.load.deployment.state_path);
  db.Exec("DELETE FROM audit");
  std::string prev = "genesis";
  int64_t id = 0;
  for (auto e : *entries) {
    if (e.id == drop) continue;
    e.id = ++id;
    e.prev_hash = prev;
    e.hash = hash(AuditCanonical(e));
    prev = e.hash;
    db.Exec(fmt::format("INSERT INTO audit (id, run_id, time, kind, binding, rule_id, action, count, key_digests, "
                        "policy_hash, detail, prev_hash, hash) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                        e.id, e.run_id, Quote(e.time), Quote(e.kind), Quote(e.binding), Quote(e.rule_id),
                        Quote(e.action), e.count, Quote(nlohmann::json(e.key_digests).dump()), Quote(e.policy_hash),
                        Quote(e.detail), Quote(e.prev_hash), Quote(e.hash)));
  }
}

nlohmann::json AuditJson(const Demo& demo) {
  Process show = Retention("audit show --config " + demo.config + " --format json");
  REQUIRE(show.code == 0);
  return nlohmann::json::parse(show.out);
}

int CountKind(const nlohmann::json& audit, const std::string& kind) {
  int n = 0;
  for (const auto& e : audit) n += e["kind"] == kind;
  return n;
}

}  // namespace

TEST_CASE("proof: runs holds and --allow-mass are typed entries of one keyed chain anchored outside", "[proof]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  std::string key = demo.Db().One("SELECT id FROM immatriculations WHERE fin_droits < '2023-11-22' ORDER BY id LIMIT 1");
  Process add = Retention("hold add" + c + " --key " + key + " --binding F01.droits --reason vérification");
  REQUIRE(add.code == 0);
  REQUIRE(Retention("hold add" + c + " --rule F76.dossier_salarie --reason contrôle --author inspecteur").code == 0);
  REQUIRE(Retention("hold release 2" + c + " --reason levée --author dpo").code == 0);
  REQUIRE(Retention("run" + c + " --as-of 2026-11-22 --allow-mass").code == 0);
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE id = " + key) == "1");
  auto audit = AuditJson(demo);
  CHECK(CountKind(audit, "hold_add") == 2);
  CHECK(CountKind(audit, "hold_release") == 1);
  CHECK(CountKind(audit, "run_start") == 1);
  CHECK(CountKind(audit, "allow_mass") == 1);
  CHECK(CountKind(audit, "run_end") == 1);
  CHECK(CountKind(audit, "batch") > 3);
  for (const auto& e : audit) {
    if (e["kind"] == "hold_add" && e["detail"]["hold"] == 1) CHECK_FALSE(e["detail"]["author"].get<std::string>().empty());
    if (e["kind"] == "hold_add" && e["detail"]["hold"] == 2) CHECK(e["detail"]["author"] == "inspecteur");
    if (e["kind"] == "hold_release") CHECK(e["detail"]["author"] == "dpo");
    if (e["kind"] == "allow_mass") CHECK_FALSE(e["detail"]["overridden"].empty());
  }
  // Three anchors (two holds placed, one released) and the run's, outside the database.
  std::string anchors = ReadAll(demo.load.deployment.anchor_file);
  CHECK(std::count(anchors.begin(), anchors.end(), '\n') == 4);
  Process verify = Retention("audit verify" + c);
  CHECK(verify.code == 0);
  CHECK(verify.out.find("anchors verified: 4") != std::string::npos);
  // A changed configuration is an entry of the next run.
  std::ofstream(demo.config, std::ios::app) << "# edited\n";
  REQUIRE(Retention("run" + c + " --as-of 2026-11-22 --allow-mass").code == 0);
  audit = AuditJson(demo);
  CHECK(CountKind(audit, "configuration_change") == 1);
  CHECK(CountKind(audit, "policy_change") == 0);
  CHECK(Retention("audit verify" + c).code == 0);
}

TEST_CASE("proof: audit verify detects each forgery and a run refuses to start on it", "[proof][forgery]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  std::string key = demo.Db().One("SELECT id FROM immatriculations WHERE fin_droits < '2023-11-22' ORDER BY id LIMIT 1");
  REQUIRE(Retention("hold add" + c + " --key " + key + " --binding F01.droits --reason vérification").code == 0);
  REQUIRE(Retention("run" + c + " --as-of 2026-11-22 --allow-mass").code == 0);
  REQUIRE(Retention("audit verify" + c).code == 0);
  SqliteDb state(demo.load.deployment.state_path);
  std::string last = state.One("SELECT MAX(id) FROM audit");
  std::string broken;
  SECTION("a deleted tail") {
    state.Exec("DELETE FROM audit WHERE id > " + std::to_string(std::stoll(last) - 3));
    broken = "anchor line 2 recorded " + last + " entries";
  }
  SECTION("a deleted run") {
    state.Exec("DELETE FROM audit WHERE run_id = 1");
    state.Exec("DELETE FROM runs WHERE id = 1");
    broken = "anchor line 2 recorded";
  }
  SECTION("a run row deleted from the runs table") {
    state.Exec("DELETE FROM runs WHERE id = 1");
    broken = "run 1 is in the audit chain but was deleted from the runs table";
  }
  SECTION("a hold released by editing released_at") {
    state.Exec("UPDATE holds SET released_at = '2026-11-22T00:00:00Z', release_reason = 'x' WHERE id = 1");
    broken = "hold 1 was edited in the holds table (released_at)";
  }
  SECTION("a hold row deleted") {
    state.Exec("DELETE FROM holds WHERE id = 1");
    broken = "hold 1 is in the audit chain but was deleted from the holds table";
  }
  SECTION("a chain recomputed without the key") {
    RewriteChain(demo, 3, PlainSha256);
    broken = "entry 1 was modified, or the chain was recomputed without the audit key";
  }
  SECTION("a chain recomputed with the key is caught by the anchors") {
    std::string audit_key = *LoadKey(demo.dir / "keys/audit.key", "");
    RewriteChain(demo, 3, [&](const std::string& t) { return HmacSha256(audit_key, t); });
    broken = "anchor line 2 recorded";
  }
  Process bad = Retention("audit verify" + c);
  INFO(bad.out);
  CHECK(bad.code == 1);
  CHECK(bad.out.find("audit chain BROKEN") != std::string::npos);
  CHECK(bad.out.find(broken) != std::string::npos);
  // The next run refuses to start, and the held record is still held.
  demo.Db().Exec("UPDATE immatriculations SET fin_droits = '2001-01-31' WHERE id = " + key);
  Process run = Retention("run" + c + " --as-of 2026-11-22 --allow-mass");
  INFO(run.out);
  CHECK(run.code == 4);
  CHECK(run.out.find("the audit chain does not verify") != std::string::npos);
  CHECK(demo.Db().One("SELECT COUNT(*) FROM immatriculations WHERE id = " + key) == "1");
}

TEST_CASE("proof: a hold row deleted or released in the table alone still holds", "[proof][holds]") {
  Demo demo;
  std::string key = demo.Db().One("SELECT id FROM immatriculations WHERE fin_droits < '2023-11-22' ORDER BY id LIMIT 1");
  REQUIRE(demo.state->AddHold(OperatorHold::Kind::kKey, key, "F01.droits", "vérification", "dpo").ok());
  SqliteDb(demo.load.deployment.state_path).Exec("DELETE FROM holds");
  REQUIRE(demo.state->ReloadHolds().ok());
  const Binding* b = demo.load.deployment.FindBinding("F01.droits");
  REQUIRE(b);
  CHECK(demo.state->holds().Held(*b, key, "").has_value());
  CHECK_FALSE(demo.state->holds().Held(*b, key + "0", "").has_value());
}

TEST_CASE("proof: certificates are signed and verify-certificate checks them", "[proof][certificate]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  REQUIRE(Retention("run" + c + " --as-of 2026-11-22 --allow-mass").code == 0);
  std::string cert = (demo.dir.path() / "state/certificates/run-1.json").string();
  auto j = nlohmann::json::parse(ReadAll(cert));
  CHECK(j["signature"]["algorithm"] == "Ed25519");
  CHECK(j["allow_mass"].is_object());
  CHECK(j["approval"].is_null());
  Process ok = Retention("audit verify-certificate " + cert + c);
  INFO(ok.out);
  CHECK(ok.code == 0);
  CHECK(ok.out.find("its head is entry") != std::string::npos);
  std::string pub = demo.dir / "keys/certificate.pub.pem";
  CHECK(Retention("audit verify-certificate " + cert + " --public-key " + pub).code == 0);
  // keygen never overwrites.
  CHECK(Retention("audit keygen" + c).code == 2);
  SECTION("an edited certificate") {
    j["actions"][0]["records"] = j["actions"][0]["records"].get<int64_t>() + 1;
    std::ofstream(cert) << j.dump(2);
    Process bad = Retention("audit verify-certificate " + cert + " --public-key " + pub);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("changed after it was signed") != std::string::npos);
  }
  SECTION("another key") {
    std::string other = demo.dir / "other.pub.pem";
    REQUIRE(Retention("audit keygen --private " + (demo.dir / "other.pem") + " --public " + other).code == 0);
    CHECK((fs::status(demo.dir / "other.pem").permissions() & fs::perms::group_all) == fs::perms::none);
    Process bad = Retention("audit verify-certificate " + cert + " --public-key " + other);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("was signed with key") != std::string::npos);
  }
  SECTION("the signature removed") {
    j.erase("signature");
    std::ofstream(cert) << j.dump(2);
    Process bad = Retention("audit verify-certificate " + cert + " --public-key " + pub);
    CHECK(bad.code == 1);
    CHECK(bad.out.find("not signed") != std::string::npos);
  }
}

TEST_CASE("holds: a key hold on an archive view keeps the archived record", "[proof][holds]") {
  Demo demo;
  std::string c = " --config " + demo.config;
  REQUIRE(Retention("run" + c + " --as-of 2026-06-30 --allow-mass").code == 0);
  SqliteDb archive(demo.dir / "data/archive.db");
  auto keys = archive.Column("SELECT id FROM prestations_invalidite ORDER BY id LIMIT 3");
  REQUIRE(keys.size() == 3);
  // All three become due for deletion from the archive; two are held, one by the view's
  // name and one by the binding's: both name the same records.
  archive.Exec("UPDATE prestations_invalidite SET date_versement = '2001-01-15' WHERE id IN (" + keys[0] + ", " + keys[1] +
               ", " + keys[2] + ")");
  Process on_view = Retention("hold add" + c + " --key " + keys[0] + " --binding F05.prestations@archive --reason litige");
  INFO(on_view.out);
  CHECK(on_view.code == 0);
  CHECK(Retention("hold add" + c + " --key " + keys[1] + " --binding F05.prestations --reason litige").code == 0);
  Process unknown = Retention("hold add" + c + " --key 7 --binding F05.nope@archive --reason litige");
  CHECK(unknown.code == 2);
  CHECK(unknown.out.find("unknown binding 'F05.nope@archive'") != std::string::npos);
  CHECK(Retention("hold add" + c + " --rule F05.prestations --binding F05.prestations --reason x").code == 2);
  Process plan = Retention("plan" + c + " --as-of 2026-11-22 --binding F05.prestations --format json");
  REQUIRE(plan.code == 0);
  auto plan_json = nlohmann::json::parse(plan.out);  // kept alive: the loop reads into it
  for (const auto& b : plan_json["bindings"])
    if (b["binding"] == "F05.prestations@archive") CHECK(b["operator_held"]["count"] == 2);
  REQUIRE(Retention("run" + c + " --as-of 2026-11-22 --allow-mass").code == 0);
  CHECK(archive.One("SELECT COUNT(*) FROM prestations_invalidite WHERE id IN (" + keys[0] + ", " + keys[1] + ")") == "2");
  CHECK(archive.One("SELECT COUNT(*) FROM prestations_invalidite WHERE id = " + keys[2]) == "0");
  // The holds name the binding's records, whichever name was given.
  auto holds = demo.state->Holds(false);
  REQUIRE(holds.ok());
  REQUIRE(holds->size() == 2);
  for (const auto& h : *holds) CHECK(h.binding == "F05.prestations");
}

TEST_CASE("proof: the assumptions in force are an entry of the run and on its certificate", "[proof][assume]") {
  Demo demo;
  std::string config = ReadAll(demo.config);
  std::string mapped = "facts: {fin_droits: fin_droits, contentieux: contentieux, decision_definitive: decision_definitive}";
  auto at = config.find(mapped);
  REQUIRE(at != std::string::npos);
  config.replace(at, mapped.size(),
                 "facts: {fin_droits: fin_droits, decision_definitive: decision_definitive}\n    assume: {contentieux: false}");
  std::ofstream(demo.config) << config;
  std::string c = " --config " + demo.config;
  Process run = Retention("run" + c + " --as-of 2026-11-22 --allow-mass");
  INFO(run.out);
  REQUIRE(run.code == 0);
  auto audit = AuditJson(demo);
  REQUIRE(CountKind(audit, "assumptions") == 1);
  for (const auto& e : audit)
    if (e["kind"] == "assumptions") {
      CHECK(e["detail"]["bindings"]["F02.droits"] == nlohmann::json::array({"contentieux=false"}));
      // The demo's own assumptions (F19.deces and its archive view), and this one.
      CHECK(e["detail"]["bindings"]["F19.deces"] ==
            nlohmann::json::array({"accord_prealable=false", "inaptitude=false"}));
      CHECK(e["detail"]["bindings"].size() == 3);
    }
  auto cert = nlohmann::json::parse(ReadAll(demo.dir / "state/certificates/run-1.json"));
  CHECK(cert["assumptions"]["bindings"]["F02.droits"][0] == "contentieux=false");
  CHECK(ReadAll(demo.dir / "state/certificates/run-1.txt").find("F02.droits: [\"contentieux=false\"]") != std::string::npos);
  CHECK(Retention("audit verify-certificate " + (demo.dir / "state/certificates/run-1.json") + c).code == 0);
}

TEST_CASE("audit: key digests are written exactly as the general JSON serializer writes them, whatever they hold",
          "[audit][chain]") {
  using Strings = std::vector<std::string>;
  const std::vector<Strings> cases = {
      {},
      {"3f2a"},
      {std::string(64, 'a'), std::string(64, 'b'), "c"},
      {"with \"quote\"", "back\\slash", "tab\there", "nul\x01", "caf\xc3\xa9", "\x7f", "bad \xff utf-8"},
      {"", ",", "[", "]"},
  };
  for (const auto& digests : cases) {
    INFO(nlohmann::json(digests).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    CHECK(retention::DigestsJson(digests) ==
          nlohmann::json(digests).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    retention::AuditEntry e;
    e.id = 7;
    e.kind = "batch";
    e.binding = "b \"key_digests\":null";  // the member's text inside a value changes nothing
    e.key_digests = digests;
    e.count = static_cast<int64_t>(digests.size());
    nlohmann::ordered_json j;
    for (auto [k, v] : std::vector<std::pair<const char*, nlohmann::ordered_json>>{
             {"id", e.id}, {"run_id", e.run_id}, {"time", e.time}, {"kind", e.kind}, {"binding", e.binding},
             {"rule_id", e.rule_id}, {"action", e.action}, {"count", e.count}, {"key_digests", e.key_digests},
             {"policy_hash", e.policy_hash}, {"detail", e.detail}, {"prev_hash", e.prev_hash}})
      j[k] = v;
    CHECK(retention::AuditCanonical(e) == j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}
