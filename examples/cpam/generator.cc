#include "cpam/generator.h"

#include "demo_template.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "store/sqlite_handle.h"
#include "retention/certificate.h"

namespace retention::demo {
namespace fs = std::filesystem;

std::string SyntheticNir(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int dept = pick(1, 95);
  if (dept == 20) dept = 75;  // Corsica uses 2A/2B: kept out of the demo
  std::string first13 = fmt::format("{}{:02}{:02}{:02}{:03}{:03}", pick(1, 2), pick(30, 99), pick(1, 12), dept,
                                    pick(1, 999), pick(1, 999));
  uint64_t n = std::stoull(first13);
  return first13 + fmt::format("{:02}", 97 - n % 97);
}

bool NirKeyValid(const std::string& nir) {
  if (nir.size() != 15 || nir.find_first_not_of("0123456789") != std::string::npos) return false;
  return 97 - std::stoull(nir.substr(0, 13)) % 97 == std::stoull(nir.substr(13));
}

namespace {

using Value = std::optional<std::string>;

// The demo database, with one prepared INSERT per table.
class Db {
 public:
  Status Open(const std::string& path) {
    auto db = sqlite::Database::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "demo database");
    if (!db.ok()) return db.status();
    db_.emplace(std::move(*db));
    return Status::Ok();
  }
  Status Exec(const std::string& sql) { return db_->ExecScript(sql); }
  Status Insert(const std::string& table, const std::vector<Value>& row) {
    auto it = statements_.find(table);
    if (it == statements_.end()) {
      std::string marks;
      for (size_t i = 0; i < row.size(); ++i) marks += i ? ",?" : "?";
      auto stmt = db_->Prepare(fmt::format("INSERT INTO {} VALUES ({})", table, marks));
      if (!stmt.ok()) return stmt.status();
      it = statements_.emplace(table, std::move(*stmt)).first;
    }
    sqlite::Statement& stmt = it->second;
    stmt.Reset();
    if (Status s = stmt.BindAll(row); !s.ok()) return s;
    auto step = stmt.Step();
    return step.status();
  }

 private:
  std::optional<sqlite::Database> db_;
  std::map<std::string, sqlite::Statement> statements_;  // destroyed before db_
};

class Generator {
 public:
  explicit Generator(const DemoOptions& o) : o_(o), rng_(o.seed) {}

  // A date `years_back` years before today at most, uniformly; NULL with `missing` probability.
  Value DateWithin(double years_back, double years_ahead = 0, double missing = 0) {
    if (Chance(missing)) return std::nullopt;
    int lo = o_.today.days_since_epoch() - static_cast<int>(years_back * 365.25);
    int hi = o_.today.days_since_epoch() + static_cast<int>(years_ahead * 365.25);
    Date d = Date::FromDaysSinceEpoch(std::uniform_int_distribution<int>(lo, hi)(rng_));
    if (Chance(0.15)) d = d.EndOfMonth();  // many systems close rights at month ends
    return d.ToString();
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  Value Flag(double p) { return std::string(Chance(p) ? "1" : "0"); }
  std::string Nir() { return SyntheticNir(rng_()); }
  std::string Name() {
    static const char* kNames[] = {"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
                                   "Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David"};
    return kNames[rng_() % 16];
  }
  std::string Amount() { return fmt::format("{:.2f}", std::uniform_real_distribution<double>(20, 2500)(rng_)); }
  // Litigation: some open (no decision yet), some decided.
  std::pair<Value, Value> Litigation(double p) {
    if (!Chance(p)) return {std::string("0"), std::nullopt};
    return {std::string("1"), Chance(0.5) ? DateWithin(3) : std::nullopt};
  }

  std::mt19937& rng() { return rng_; }

 private:
  const DemoOptions& o_;
  std::mt19937 rng_;
};

constexpr const char* kSchema = R"(
CREATE TABLE immatriculations (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, nom TEXT, fin_droits DATE);
CREATE TABLE droits_maladie (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, fin_droits DATE, contentieux INTEGER,
  decision_definitive DATE);
CREATE TABLE beneficiaires_invalidite (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, nom TEXT, fin_droits DATE,
  contentieux INTEGER, decision_definitive DATE);
CREATE TABLE prestations_invalidite (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, date_versement DATE, montant REAL);
CREATE TABLE prestations_at_mp (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, date_versement DATE, montant REAL);
CREATE TABLE controle_medical (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, deces DATE, ald INTEGER,
  accord_prealable INTEGER, invalidite INTEGER, inaptitude INTEGER, atmp INTEGER, contentieux INTEGER,
  decision_definitive DATE);
CREATE TABLE messages_ameli (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, objet TEXT, envoye_le TIMESTAMP);
CREATE TABLE dossiers_medicaux (id INTEGER PRIMARY KEY, nir TEXT NOT NULL, naissance DATE, dernier_sejour DATE,
  deces DATE);
CREATE TABLE accompagnements (id INTEGER PRIMARY KEY, nir TEXT, nom TEXT, telephone TEXT, cloture DATE,
  pseudonymise_le DATE);
CREATE TABLE salaries (id INTEGER PRIMARY KEY, matricule TEXT NOT NULL, nom TEXT, depart DATE);
CREATE INDEX immatriculations_fin_droits ON immatriculations (fin_droits);
CREATE INDEX droits_maladie_fin_droits ON droits_maladie (fin_droits);
CREATE INDEX prestations_invalidite_versement ON prestations_invalidite (date_versement);
CREATE INDEX prestations_at_mp_versement ON prestations_at_mp (date_versement);
CREATE INDEX messages_ameli_envoye ON messages_ameli (envoye_le);
)";

Status WriteOwnerOnly(const fs::path& path, const std::string& content) {
  std::ofstream(path) << content;
  if (chmod(path.c_str(), 0600) != 0) return Status::IoError("cannot chmod " + path.string());
  return Status::Ok();
}

std::string RandomHex(std::mt19937& rng) {
  std::string s;
  for (int i = 0; i < 32; ++i) s += fmt::format("{:02x}", rng() & 0xff);
  return s;
}

void Touch(const fs::path& p, Date d, int hour) {
  std::ofstream(p) << "synthetic media " << p.filename().string() << "\n";
  std::tm tm{};
  tm.tm_year = d.year() - 1900;
  tm.tm_mon = static_cast<int>(d.month()) - 1;
  tm.tm_mday = static_cast<int>(d.day());
  tm.tm_hour = hour;
  tm.tm_isdst = -1;
  std::time_t t = timegm(&tm) - 3600;  // noon-ish in Paris; the date is what matters
  fs::last_write_time(p, std::chrono::file_clock::from_sys(std::chrono::system_clock::from_time_t(t)));
}

}  // namespace

Result<DemoSummary> GenerateDemo(const DemoOptions& o) {
  fs::path dir = o.dir;
  if (fs::exists(dir / "config.yaml") && !o.force)
    return Status::FailedPrecondition(fmt::format("{} already holds a demo (use --force to replace it)", o.dir));
  std::error_code ec;
  for (const char* sub : {"data", "state", "keys", "data/recordings", "data/cctv"}) fs::remove_all(dir / sub, ec);
  for (const char* sub : {"data/recordings", "data/cctv", "state", "keys"}) fs::create_directories(dir / sub);
  fs::permissions(dir / "keys", fs::perms::owner_all, ec);
  Generator g(o);
  if (Status s = WriteOwnerOnly(dir / "keys/audit.key", RandomHex(g.rng()) + "\n"); !s.ok()) return s;
  if (Status s = WriteOwnerOnly(dir / "keys/pseudonymisation.key", RandomHex(g.rng()) + "\n"); !s.ok()) return s;
  if (Status s = GenerateCertificateKeys((dir / "keys/certificate.pem").string(), (dir / "keys/certificate.pub.pem").string());
      !s.ok())
    return s;

  DemoSummary summary;
  {
    Db db;
    if (Status s = db.Open((dir / "data/cpam.db").string()); !s.ok()) return s;
    if (Status s = db.Exec(kSchema); !s.ok()) return s;
    if (Status s = db.Exec("BEGIN"); !s.ok()) return s;
    int per = std::max(10, o.rows / 10);
    auto add = [&](const std::string& table, std::vector<Value> row) {
      ++summary.records;
      return db.Insert(table, row);
    };
    for (int i = 1; i <= per; ++i) {
      std::string id = std::to_string(i);
      // Rights ended within 8 years, or still open (NULL: missing end of rights).
      if (Status s = add("immatriculations", {id, g.Nir(), g.Name(), g.DateWithin(8, 0, 0.25)}); !s.ok()) return s;
      auto [c2, d2] = g.Litigation(0.04);
      if (Status s = add("droits_maladie", {id, g.Nir(), g.DateWithin(9, 0, 0.25), c2, d2}); !s.ok()) return s;
      auto [c5, d5] = g.Litigation(0.04);
      if (Status s = add("beneficiaires_invalidite", {id, g.Nir(), g.Name(), g.DateWithin(9, 0, 0.2), c5, d5}); !s.ok())
        return s;
      if (Status s = add("prestations_invalidite", {id, g.Nir(), g.DateWithin(15, 0, 0.02), g.Amount()}); !s.ok()) return s;
      if (Status s = add("prestations_at_mp", {id, g.Nir(), g.DateWithin(15, 0, 0.02), g.Amount()}); !s.ok()) return s;
      auto [c19, d19] = g.Litigation(0.05);
      bool dead = g.Chance(0.7);
      if (Status s = add("controle_medical", {id, g.Nir(), dead ? g.DateWithin(25) : std::nullopt, g.Flag(0.3),
                                              g.Flag(0.1), g.Flag(0.15), g.Flag(0.1), g.Flag(0.2), c19, d19});
          !s.ok())
        return s;
      Value sent = g.DateWithin(1.5);
      if (Status s = add("messages_ameli", {id, g.Nir(), "Votre attestation de droits", *sent + " 09:30:00"}); !s.ok()) return s;
      Value birth = g.DateWithin(90, 0, 0.02);
      Value stay = g.DateWithin(30, 0, 0.01);
      if (Status s = add("dossiers_medicaux", {id, g.Nir(), birth, stay, g.Chance(0.1) ? g.DateWithin(12) : std::nullopt});
          !s.ok())
        return s;
      if (Status s = add("accompagnements", {id, g.Nir(), g.Name(), "0600000000", g.DateWithin(6, 0, 0.1), std::nullopt});
          !s.ok())
        return s;
      if (Status s = add("salaries", {id, fmt::format("M{:06}", i), g.Name(), g.Chance(0.6) ? g.DateWithin(10) : std::nullopt});
          !s.ok())
        return s;
    }
    if (Status s = db.Exec("COMMIT"); !s.ok()) return s;
  }
  // Call recordings: the date in the name; some exploited. CCTV: one clip a day or so.
  int files = std::max(20, o.rows / 100);
  for (int i = 0; i < files; ++i) {
    Date d = *Date::Parse(*g.DateWithin(0.8));
    std::string name = fmt::format("appel_{:04}{:02}{:02}_{:05}{}.wav", d.year(), d.month(), d.day(), i,
                                   g.Chance(0.2) ? "_exploite" : "");
    fs::path sub = dir / "data/recordings" / fmt::format("{:04}-{:02}", d.year(), d.month());
    fs::create_directories(sub);
    Touch(sub / name, d, 12);
    Date c = *Date::Parse(*g.DateWithin(0.25));
    fs::path cam = dir / "data/cctv" / fmt::format("camera{}", i % 3 + 1);
    fs::create_directories(cam);
    Touch(cam / fmt::format("clip_{:05}.mp4", i), c, 12);
    summary.files += 2;
  }
  std::string config = kDemoConfigTemplate;
  config.replace(config.find("@POLICIES@"), 10, fs::absolute(o.policies_dir).lexically_normal().string());
  summary.config = (dir / "config.yaml").string();
  std::ofstream(summary.config) << config;
  return summary;
}

}  // namespace retention::demo
