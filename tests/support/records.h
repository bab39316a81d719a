// Synthetic records for store tests: one wide table whose columns hold every fact the
// differential test's rules read, with month ends, leap days, NULLs, holds and each case.
#pragma once

#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "retention/date.h"

namespace retention::testing {

using Value = std::optional<std::string>;

// Column name, SQL type (portable between SQLite and PostgreSQL).
inline const std::vector<std::pair<std::string, std::string>>& WideColumns() {
  static const std::vector<std::pair<std::string, std::string>> kColumns = {
      {"id", "INTEGER PRIMARY KEY"}, {"nir", "TEXT"},
      {"fin_droits", "DATE"}, {"date_versement", "DATE"}, {"deces", "DATE"}, {"naissance", "DATE"},
      {"dernier_sejour", "DATE"}, {"decision_definitive", "DATE"}, {"extinction", "DATE"}, {"collecte", "DATE"},
      {"cloture", "DATE"}, {"sortie_programme", "DATE"}, {"dernier_evenement", "DATE"}, {"constat_inactivite", "DATE"},
      {"decision_sans_suite", "DATE"},
      {"contentieux", "BOOLEAN"}, {"ayants_droit", "BOOLEAN"}, {"ald", "BOOLEAN"}, {"accord_prealable", "BOOLEAN"},
      {"invalidite", "BOOLEAN"}, {"inaptitude", "BOOLEAN"}, {"atmp", "BOOLEAN"}, {"exploitation", "BOOLEAN"},
      {"procedure_sanction", "BOOLEAN"},
      {"statut_programme", "TEXT"}, {"issue_signalement", "TEXT"}};
  return kColumns;
}

// A date drawn so that month ends, 29 February and the days around the cutoffs are common.
inline Value RandomDate(std::mt19937& rng, double null_rate = 0.1) {
  std::uniform_real_distribution<double> u(0, 1);
  if (u(rng) < null_rate) return std::nullopt;
  std::uniform_int_distribution<int> year(1985, 2030), month(1, 12), day(1, 28);
  int y = year(rng);
  unsigned m = static_cast<unsigned>(month(rng));
  double k = u(rng);
  Date d = *Date::FromYmd(y, m, static_cast<unsigned>(day(rng)));
  if (k < 0.25) d = d.EndOfMonth();
  else if (k < 0.30) d = Date::FromYmd(y - y % 4, 2, 29).value_or(d);  // leap days
  else if (k < 0.35) d = d.EndOfMonth().AddDays(1);                   // first days of months
  return d.ToString();
}

inline Value RandomFlag(std::mt19937& rng, double true_rate, bool sqlite) {
  std::uniform_real_distribution<double> u(0, 1);
  double x = u(rng);
  if (x < 0.05) return std::nullopt;
  bool b = x < 0.05 + true_rate;
  return sqlite ? std::string(b ? "1" : "0") : std::string(b ? "true" : "false");
}

// How many records the differential tests generate: 100,000, or RETENTION_TEST_RECORDS
// (the sanitizer pass uses fewer; an unparsable value is ignored).
inline int DifferentialRecords() {
  const char* env = std::getenv("RETENTION_TEST_RECORDS");
  if (env == nullptr) return 100000;
  char* end = nullptr;
  long n = std::strtol(env, &end, 10);
  return (*env != '\0' && *end == '\0' && n >= 1000 && n <= 10000000) ? static_cast<int>(n) : 100000;
}

// Calls `row` n times with one record's values, in WideColumns() order.
inline void GenerateWideRecords(int n, unsigned seed, bool sqlite, const std::function<void(const std::vector<Value>&)>& row) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  static const char* kStatut[] = {"adherent", "eligible", "professionnel"};
  static const char* kIssue[] = {"sans_suite_organisme", "non_lieu", "relaxe", "sans_suite_procureur", "autre"};
  for (int i = 1; i <= n; ++i) {
    std::vector<Value> v;
    v.push_back(std::to_string(i));
    v.push_back(std::to_string(100000000 + i));
    for (int c = 0; c < 13; ++c) v.push_back(RandomDate(rng, c == 5 ? 0.6 : 0.1));  // decision_definitive often NULL
    v.push_back(RandomFlag(rng, 0.15, sqlite));  // contentieux
    for (int c = 0; c < 8; ++c) v.push_back(RandomFlag(rng, 0.4, sqlite));
    v.push_back(u(rng) < 0.05 ? Value() : Value(kStatut[static_cast<int>(u(rng) * 3)]));
    v.push_back(u(rng) < 0.05 ? Value() : Value(kIssue[static_cast<int>(u(rng) * 5)]));
    row(v);
  }
}

// The bindings of the differential test: rules with offsets, month/year arithmetic,
// end_of_year, max/min, cases, enumerations, holds, two-fact comparisons and a
// deployment-wide fact, all over the wide table.
inline std::string WideBindings(const std::string& store, const std::string& table) {
  std::string t = "    store: " + store + "\n    table: " + table + "\n    key: id\n    subject: nir\n";
  auto binding = [&](const std::string& name, const std::string& rule, const std::string& facts,
                     const std::string& extra = "") {
    return "  - name: " + name + "\n    rule: " + rule + "\n" + t + "    facts: {" + facts + "}\n" + extra;
  };
  return binding("droits", "F01.droits", "fin_droits: fin_droits") +
         binding("droits_contentieux", "F02.droits",
                 "fin_droits: fin_droits, contentieux: contentieux, decision_definitive: decision_definitive") +
         binding("victime", "F04.victime",
                 "ayants_droit: ayants_droit, extinction_droits_ayants_droit: extinction, contentieux: contentieux, "
                 "decision_definitive: decision_definitive, deces: deces") +
         binding("prestations", "F05.prestations", "date_versement: date_versement",
                 "    archive: {store: " + store + ", table: " + table + "_archive}\n") +
         binding("controle_medical", "F19.deces",
                 "deces: deces, ald: ald, accord_prealable: accord_prealable, invalidite: invalidite, "
                 "inaptitude: inaptitude, atmp: atmp, contentieux: contentieux, decision_definitive: decision_definitive",
                 "    archive: {store: " + store + ", table: " + table + "_archive19}\n") +
         binding("signalements", "F22.signalements",
                 "issue_signalement: issue_signalement, decision_sans_suite: decision_sans_suite, "
                 "procedure_sanction: procedure_sanction, decision_definitive: decision_definitive, contentieux: contentieux",
                 "    archive: {store: " + store + ", table: " + table + "_archive22}\n") +
         binding("programme", "F25.archivage_intermediaire",
                 "statut_programme: statut_programme, sortie_programme: sortie_programme, "
                 "dernier_evenement: dernier_evenement, constat_inactivite: constat_inactivite",
                 "    archive: {store: " + store + ", table: " + table + "_archive25}\n") +
         binding("dossier_medical", "F51.dossier_medical",
                 "dernier_sejour: dernier_sejour, naissance: naissance, deces: deces") +
         binding("suivi", "F52.suivi", "cloture: cloture, deces: deces",
                 "    archive: {store: " + store + ", table: " + table + "_archive52}\n") +
         binding("appels", "F33.appels_enregistres", "collecte: collecte, exploitation: exploitation") +
         binding("urgence", "F58.fin_urgence", "");
}

}  // namespace retention::testing
