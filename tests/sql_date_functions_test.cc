// Which SQL date arithmetic follows article 641 CPC (same day of the month, else the
// month's last day)? Here SQLite's, against retention::Add, for every day of 2023-2025
// and several month and year offsets (tests/postgres/sql_date_functions_test.cc does
// PostgreSQL). SQLite normalises a missing day into the next month (2023-01-31 + 1 month
// = 2023-02-31 = 2023-03-03), so a due condition written as `date(col, '+1 months') < ?`
// would be wrong on month ends: this is why the engine compiles each due condition into a
// constant cutoff (SmallestReaching) compared with the bare column, never SQL date arithmetic.
#include <sqlite3.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "retention/date.h"

using namespace retention;

namespace {

// Every day of 2023-01-01..2025-12-31 (1096 days, 2024 is a leap year).
std::vector<Date> Days() {
  std::vector<Date> out;
  for (Date d = *Date::FromYmd(2023, 1, 1), end = *Date::FromYmd(2025, 12, 31); d <= end; d = d.AddDays(1))
    out.push_back(d);
  return out;
}

// The number of days of d + `months` months' month (std::chrono, independent of Add).
unsigned DaysInTargetMonth(Date d, int months) {
  using namespace std::chrono;
  year_month ym = year{d.year()} / month{d.month()} + std::chrono::months{months};
  return static_cast<unsigned>(year_month_day_last{ym / last}.day());
}

class Sqlite {
 public:
  Sqlite() {
    REQUIRE(sqlite3_open(":memory:", &db_) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(db_, "SELECT date(?1, ?2)", -1, &stmt_, nullptr) == SQLITE_OK);
  }
  ~Sqlite() {
    sqlite3_finalize(stmt_);
    sqlite3_close(db_);
  }
  // date(d, modifier), e.g. modifier "+1 months".
  std::string DateWith(const std::string& d, const std::string& modifier) {
    sqlite3_reset(stmt_);
    sqlite3_bind_text(stmt_, 1, d.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt_, 2, modifier.c_str(), -1, SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(stmt_) == SQLITE_ROW);
    auto text = sqlite3_column_text(stmt_, 0);
    return text ? reinterpret_cast<const char*>(text) : "NULL";
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

struct Comparison {
  int pairs = 0;          // (day, offset) pairs compared
  int missing_day = 0;    // pairs whose target month lacks the day
  int mismatches = 0;     // pairs where SQLite differs from Add
  int overflowed = 0;     // mismatches where SQLite gave Add's date + the missing days
  int mismatch_not_missing = 0;  // mismatches on a day the target month has (never expected)
  int mismatch_before_29 = 0;    // mismatches on days 1..28 (never expected)
  std::vector<std::string> examples;
};

// date(d, '+N <unit>') against Add(d, N <unit>), for every day of 2023-2025.
Comparison CompareSqlite(Sqlite& db, int n, DurationUnit unit) {
  Comparison c;
  const int months = unit == DurationUnit::kYears ? 12 * n : n;
  const std::string modifier = fmt::format("{:+d} {}", n, unit == DurationUnit::kYears ? "years" : "months");
  for (Date d : Days()) {
    ++c.pairs;
    Date expected = Add(d, Duration{n, unit});
    bool missing = d.day() > DaysInTargetMonth(d, months);
    c.missing_day += missing;
    std::string got = db.DateWith(d.ToString(), modifier);
    if (got == expected.ToString()) continue;
    ++c.mismatches;
    c.mismatch_not_missing += !missing;
    c.mismatch_before_29 += d.day() <= 28;
    // SQLite's result: the target month's day d.day() counted past its end.
    Date overflow = expected.AddDays(static_cast<int>(d.day()) - static_cast<int>(expected.day()));
    c.overflowed += got == overflow.ToString();
    if (c.examples.size() < 3)
      c.examples.push_back(fmt::format("date('{}', '{}') = {}, article 641: {}", d.ToString(), modifier, got,
                                       expected.ToString()));
  }
  return c;
}

void CheckOverflowsExactlyOnMissingDays(const Comparison& c, const std::string& what) {
  INFO(what << ": " << c.mismatches << " of " << c.pairs << " days differ, " << c.missing_day
            << " days missing in the target month; e.g. " << fmt::format("{}", fmt::join(c.examples, "; ")));
  CHECK(c.missing_day > 0);
  CHECK(c.mismatches == c.missing_day);  // exactly the days the target month lacks...
  CHECK(c.mismatch_not_missing == 0);    // ...and none other
  CHECK(c.mismatch_before_29 == 0);      // so each one is a 29th, 30th or 31st
  CHECK(c.overflowed == c.mismatches);   // each one spills the missing days into the next month
}

}  // namespace

TEST_CASE("SQLite's date(d, '+N months') overflows into the next month, unlike article 641", "[sql-dates][sqlite]") {
  Sqlite db;
  // The known days.
  CHECK(db.DateWith("2023-01-31", "+1 months") == "2023-03-03");
  CHECK(Add(*Date::Parse("2023-01-31"), Duration{1, DurationUnit::kMonths}).ToString() == "2023-02-28");
  CHECK(db.DateWith("2024-01-31", "+1 months") == "2024-03-02");
  CHECK(Add(*Date::Parse("2024-01-31"), Duration{1, DurationUnit::kMonths}).ToString() == "2024-02-29");
  CHECK(db.DateWith("2023-03-31", "+13 months") == "2024-05-01");
  CHECK(Add(*Date::Parse("2023-03-31"), Duration{13, DurationUnit::kMonths}).ToString() == "2024-04-30");
  // Where the target month has the day, both agree (article 641's "same day of the month").
  CHECK(db.DateWith("2023-04-30", "+1 months") == "2023-05-30");
  CHECK(Add(*Date::Parse("2023-04-30"), Duration{1, DurationUnit::kMonths}).ToString() == "2023-05-30");

  // Offset → days of 2023-2025 on which SQLite differs: +1 month, 20 = per year the 31st
  // before a 30-day month (4) or February (1), and 29-30 January (2 in 2023 and 2025, 1 in 2024).
  const std::vector<std::pair<int, int>> kMismatches = {{1, 20}, {2, 11}, {12, 1}, {13, 20}, {24, 1}, {-1, 20}, {-12, 1}};
  int total_mismatches = 0;
  for (const auto& [n, expected] : kMismatches) {
    Comparison c = CompareSqlite(db, n, DurationUnit::kMonths);
    CheckOverflowsExactlyOnMissingDays(c, fmt::format("{:+d} months", n));
    CHECK(c.mismatches == expected);
    total_mismatches += c.mismatches;
  }
  // Every mismatch is a day after the 28th whose target month is shorter (checked above).
  CHECK(total_mismatches == 74);
}

TEST_CASE("SQLite's date(d, '+N years') turns 29 February into 1 March, unlike article 641's 28 February",
          "[sql-dates][sqlite]") {
  Sqlite db;
  CHECK(db.DateWith("2024-02-29", "+1 years") == "2025-03-01");
  CHECK(Add(*Date::Parse("2024-02-29"), Duration{1, DurationUnit::kYears}).ToString() == "2025-02-28");
  CHECK(db.DateWith("2024-02-29", "+12 months") == "2025-03-01");
  for (int n : {1, 2, -1}) {
    Comparison c = CompareSqlite(db, n, DurationUnit::kYears);
    CheckOverflowsExactlyOnMissingDays(c, fmt::format("{:+d} years", n));
    CHECK(c.mismatches == 1);  // 2024-02-29 is the only leap day of 2023-2025
  }
}

TEST_CASE("SQLite's date arithmetic agrees with article 641 on every day up to the 28th", "[sql-dates][sqlite]") {
  Sqlite db;
  int compared = 0;
  for (int n : {1, 2, 12, 13, 24, -1, -12})
    for (Date d : Days()) {
      if (d.day() > 28) continue;
      ++compared;
      std::string got = db.DateWith(d.ToString(), fmt::format("{:+d} months", n));
      INFO("date('" << d.ToString() << "', '" << fmt::format("{:+d}", n) << " months')");
      REQUIRE(got == Add(d, Duration{n, DurationUnit::kMonths}).ToString());
    }
  CHECK(compared == 7 * 36 * 28);
}
