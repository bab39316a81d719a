// Which SQL date arithmetic follows article 641 CPC (same day of the month, else the
// month's last day)? Here PostgreSQL's, against retention::Add, for every day of
// 2023-2025 and several month and year offsets (tests/sql_date_functions_test.cc does
// SQLite, which does not). PostgreSQL clamps to the month's last day, as article 641
// does; the engine still compiles due conditions into constant cutoffs compared with the
// bare column, so that one code path serves every store and an index on the column can
// be used.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "pg_session.h"
#include "retention/date.h"

using namespace retention;
using namespace retention::testing;

namespace {

constexpr const char* kDays =
    "generate_series(DATE '2023-01-01', DATE '2025-12-31', interval '1 day') AS g(d)";

struct Mismatches {
  int pairs = 0;
  int count = 0;
  std::vector<std::string> where;  // the first few, "day + offset: sql vs article 641"
};

// `expression` (over d::date and the offset n) for every day of 2023-2025, against Add(d, n unit).
Mismatches Compare(PgSession& db, const std::string& expression, int n, DurationUnit unit) {
  auto rows = db.Query(fmt::format("SELECT d::date::text, ({})::date::text FROM {} ORDER BY 1",
                                   fmt::format(fmt::runtime(expression), n), kDays));
  Mismatches m;
  for (const auto& row : rows) {
    ++m.pairs;
    Date d = *Date::Parse(*row[0]);
    std::string expected = Add(d, Duration{n, unit}).ToString();
    if (row[1] == expected) continue;
    ++m.count;
    if (m.where.size() < 10)
      m.where.push_back(fmt::format("{} {:+d}{}: {} vs {}", *row[0], n, unit == DurationUnit::kYears ? "y" : "m",
                                    row[1].value_or("NULL"), expected));
  }
  return m;
}

void CheckAgreesEveryDay(PgSession& db, const std::string& expression, const std::vector<int>& offsets,
                         DurationUnit unit) {
  for (int n : offsets) {
    Mismatches m = Compare(db, expression, n, unit);
    INFO(fmt::format(fmt::runtime(expression), n) << ": " << m.count << " of " << m.pairs << " days differ: "
                                                  << fmt::format("{}", fmt::join(m.where, "; ")));
    CHECK(m.pairs == 1096);
    CHECK(m.count == 0);
  }
}

const std::vector<int> kMonthOffsets = {1, 2, 12, 13, 24, -1, -12};
const std::vector<int> kYearOffsets = {1, 2, -1};

}  // namespace

TEST_CASE("PostgreSQL's date + make_interval(months => N) follows article 641 on every day of 2023-2025",
          "[postgres][sql-dates]") {
  PgSession db;
  CHECK(db.Scalar("SELECT (DATE '2023-01-31' + make_interval(months => 1))::date") == "2023-02-28");
  CHECK(db.Scalar("SELECT (DATE '2024-01-31' + make_interval(months => 1))::date") == "2024-02-29");
  CHECK(db.Scalar("SELECT (DATE '2023-04-30' + make_interval(months => 1))::date") == "2023-05-30");
  CHECK(db.Scalar("SELECT (DATE '2024-03-31' + make_interval(months => -1))::date") == "2024-02-29");
  // The type of date + interval is timestamp without time zone: no session time zone shifts the day.
  CHECK(db.Scalar("SELECT pg_typeof(DATE '2023-01-31' + make_interval(months => 1))::text") ==
        "timestamp without time zone");
  CheckAgreesEveryDay(db, "d::date + make_interval(months => {})", kMonthOffsets, DurationUnit::kMonths);
  CheckAgreesEveryDay(db, "d::date + make_interval(years => {})", kYearOffsets, DurationUnit::kYears);
}

TEST_CASE("PostgreSQL's (date + interval 'N months')::date follows article 641 on every day of 2023-2025",
          "[postgres][sql-dates]") {
  PgSession db;
  CHECK(db.Scalar("SELECT (DATE '2024-02-29' + interval '1 years')::date") == "2025-02-28");
  CHECK(db.Scalar("SELECT (DATE '2023-03-31' + interval '13 months')::date") == "2024-04-30");
  CheckAgreesEveryDay(db, "d::date + interval '{} months'", kMonthOffsets, DurationUnit::kMonths);
  CheckAgreesEveryDay(db, "d::date + interval '{} years'", kYearOffsets, DurationUnit::kYears);
}

TEST_CASE("PostgreSQL month steps do not compose: +1 month twice is not +2 months (nor is Add)",
          "[postgres][sql-dates]") {
  // Article 641 counts from the starting date: a duration of N months is one step of N,
  // never N steps of one month. PostgreSQL and Add agree on both forms.
  PgSession db;
  CHECK(db.Scalar("SELECT (DATE '2023-01-31' + interval '1 month' + interval '1 month')::date") == "2023-03-28");
  CHECK(db.Scalar("SELECT (DATE '2023-01-31' + interval '2 months')::date") == "2023-03-31");
  Date d = *Date::Parse("2023-01-31");
  CHECK(Add(Add(d, Duration{1, DurationUnit::kMonths}), Duration{1, DurationUnit::kMonths}).ToString() == "2023-03-28");
  CHECK(Add(d, Duration{2, DurationUnit::kMonths}).ToString() == "2023-03-31");
}
