// Date arithmetic (article 641 CPC), checked against a table written from the rule and
// against an independent oracle: civil dates from day counts (Hinnant's civil_from_days
// algorithm) and a month addition written from the rule's wording with its own leap-year
// logic. Boost.Date_Time is used for day counting, and to pin where its month arithmetic
// differs from article 641 (it snaps month ends), which is why the engine does not use it.
#include <tuple>

#include <boost/date_time/gregorian/gregorian.hpp>
#include <catch2/catch.hpp>

#include "retention/clock.h"
#include "retention/date.h"

using retention::Add;
using retention::Date;
using retention::Duration;
using retention::DurationUnit;

namespace {

// --- The oracle: written without std::chrono or the engine. ---
struct Civil {
  long y;
  unsigned m, d;
};

Civil CivilFromDays(long z) {  // days since 1970-01-01 → y/m/d
  z += 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long y = static_cast<long>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool OracleLeap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned OracleMonthLength(long y, unsigned m) {
  static const unsigned kLength[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && OracleLeap(y) ? 29 : kLength[m - 1];
}
// "Same day of the month N months later; if that month has no such day, its last day."
Civil OracleAddMonths(Civil c, long n) {
  long index = c.y * 12 + (c.m - 1) + n;
  long y = index >= 0 ? index / 12 : (index - 11) / 12;
  unsigned m = static_cast<unsigned>(index - y * 12) + 1;
  unsigned last = OracleMonthLength(y, m);
  return {y, m, c.d <= last ? c.d : last};
}

Date D(const char* s) { return *Date::Parse(s); }

}  // namespace

TEST_CASE("article 641 CPC: the table of month ends, leap days, years, weeks and days", "[date]") {
  auto [from, duration, expected] = GENERATE(table<const char*, const char*, const char*>({
      // The examples of DESIGN.md.
      {"2024-01-31", "1m", "2024-02-29"},
      {"2023-04-30", "1m", "2023-05-30"},
      // Every month end of a common year plus one month.
      {"2023-01-31", "1m", "2023-02-28"}, {"2023-02-28", "1m", "2023-03-28"},
      {"2023-03-31", "1m", "2023-04-30"}, {"2023-05-31", "1m", "2023-06-30"},
      {"2023-06-30", "1m", "2023-07-30"}, {"2023-07-31", "1m", "2023-08-31"},
      {"2023-08-31", "1m", "2023-09-30"}, {"2023-09-30", "1m", "2023-10-30"},
      {"2023-10-31", "1m", "2023-11-30"}, {"2023-11-30", "1m", "2023-12-30"},
      {"2023-12-31", "1m", "2024-01-31"},
      // Leap days.
      {"2024-02-29", "1y", "2025-02-28"}, {"2024-02-29", "4y", "2028-02-29"},
      {"2024-02-29", "12m", "2025-02-28"}, {"2024-02-29", "1m", "2024-03-29"},
      {"2023-02-28", "1y", "2024-02-28"}, {"2020-02-29", "100y", "2120-02-29"},
      {"2000-02-29", "100y", "2100-02-28"},  // 2100 is not a leap year
      // Multi-year and long month counts.
      {"2021-08-31", "18m", "2023-02-28"}, {"2022-08-31", "18m", "2024-02-29"},
      {"2019-05-31", "27m", "2021-08-31"}, {"2019-11-30", "27m", "2022-02-28"},
      {"2012-03-04", "10y", "2022-03-04"}, {"2023-11-21", "3y", "2026-11-21"},
      {"2001-01-31", "36m", "2004-01-31"}, {"2006-03-31", "20y", "2026-03-31"},
      // Negative offsets go backwards by the same rule.
      {"2024-03-31", "-1m", "2024-02-29"}, {"2025-03-31", "-1y", "2024-03-31"},
      {"2025-02-28", "-1y", "2024-02-28"},
      // Weeks and days, across month, year and leap boundaries.
      {"2023-12-25", "1w", "2024-01-01"}, {"2024-02-22", "1w", "2024-02-29"},
      {"2024-02-28", "3w", "2024-03-20"}, {"2024-02-28", "1d", "2024-02-29"},
      {"2023-02-28", "1d", "2023-03-01"}, {"2024-12-31", "1d", "2025-01-01"},
      {"2024-01-01", "60d", "2024-03-01"}, {"2023-01-01", "60d", "2023-03-02"},
      {"2024-03-01", "-1d", "2024-02-29"},
  }));
  std::string text = duration;
  bool negative = text[0] == '-';
  auto d = Duration::Parse(negative ? text.substr(1) : text);
  REQUIRE(d);
  if (negative) d->count = -d->count;
  INFO(from << " + " << duration);
  CHECK(Add(D(from), *d).ToString() == expected);
}

TEST_CASE("month addition agrees with the oracle for every day of 1999..2031", "[date]") {
  auto months = GENERATE(1, 2, 3, 6, 11, 12, 18, 24, 27, 36, 60, 120, 240, -1, -12, -13);
  Date start = D("1999-01-01"), end = D("2031-12-31");
  int mismatches = 0;
  for (int day = start.days_since_epoch(); day <= end.days_since_epoch(); ++day) {
    Date date = Date::FromDaysSinceEpoch(day);
    Civil c = CivilFromDays(day);
    REQUIRE((c.y == date.year() && c.m == date.month() && c.d == date.day()));  // civil conversion agrees
    Civil want = OracleAddMonths(c, months);
    Date got = date.AddMonths(months);
    if (got.year() != want.y || got.month() != want.m || got.day() != want.d) {
      if (++mismatches < 5) FAIL_CHECK(date.ToString() << " + " << months << "m = " << got.ToString());
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("day and week counts agree with Boost.Date_Time", "[date]") {
  using boost::gregorian::date;
  using boost::gregorian::days;
  auto n = GENERATE(1, 7, 30, 60, 365, 366, 1000, -1, -400);
  for (int day = D("2019-12-01").days_since_epoch(); day <= D("2021-03-31").days_since_epoch(); day += 3) {
    Date ours = Date::FromDaysSinceEpoch(day);
    date theirs(ours.year(), ours.month(), ours.day());
    date shifted = theirs + days(n);
    Date got = Add(ours, Duration{n, DurationUnit::kDays});
    REQUIRE(got.ToString() == boost::gregorian::to_iso_extended_string(shifted));
  }
}

TEST_CASE("Boost's month arithmetic snaps month ends, which article 641 does not", "[date]") {
  // Pins why the engine does its own month arithmetic: boost::gregorian::months keeps
  // a month end at the month end (2023-04-30 + 1 month = 2023-05-31 in Boost).
  boost::gregorian::date boost_result = boost::gregorian::date(2023, 4, 30) + boost::gregorian::months(1);
  CHECK(boost::gregorian::to_iso_extended_string(boost_result) == "2023-05-31");
  CHECK(D("2023-04-30").AddMonths(1).ToString() == "2023-05-30");
}

TEST_CASE("parsing dates and durations", "[date]") {
  SECTION("valid dates round-trip") {
    for (const char* s : {"2024-02-29", "1970-01-01", "2099-12-31", "0001-01-01"}) CHECK(D(s).ToString() == s);
  }
  SECTION("invalid dates are refused") {
    for (const char* s : {"2023-02-29", "2023-02-30", "2023-13-01", "2023-00-10", "2023-4-30", "20230430",
                          "2023-04-31", "", "abcd-ef-gh", "2023-04-30T00:00"})
      CHECK_FALSE(Date::Parse(s));
  }
  SECTION("durations") {
    CHECK(Duration::Parse("5y") == Duration{5, DurationUnit::kYears});
    CHECK(Duration::Parse("18m") == Duration{18, DurationUnit::kMonths});
    CHECK(Duration::Parse("3w") == Duration{3, DurationUnit::kWeeks});
    CHECK(Duration::Parse("60d") == Duration{60, DurationUnit::kDays});
    for (const char* s : {"5 ans", "5 y", "y", "5", "5x", "-5y", "5yy", "ams"}) CHECK_FALSE(Duration::Parse(s));
  }
}

TEST_CASE("calendar rounding", "[date]") {
  CHECK(D("2024-02-10").EndOfMonth().ToString() == "2024-02-29");
  CHECK(D("2023-02-10").EndOfMonth().ToString() == "2023-02-28");
  CHECK(D("2023-12-31").EndOfMonth().ToString() == "2023-12-31");
  CHECK(D("2023-06-15").EndOfYear().ToString() == "2023-12-31");
}

TEST_CASE("SmallestReaching is the exact cutoff of 'anchor + duration < target'", "[date][pushdown]") {
  auto duration = GENERATE(Duration{1, DurationUnit::kMonths}, Duration{3, DurationUnit::kYears},
                           Duration{18, DurationUnit::kMonths}, Duration{2, DurationUnit::kWeeks},
                           Duration{30, DurationUnit::kDays}, Duration{0, DurationUnit::kDays});
  for (int t = D("2023-01-01").days_since_epoch(); t <= D("2025-12-31").days_since_epoch(); ++t) {
    Date target = Date::FromDaysSinceEpoch(t);
    Date cutoff = retention::SmallestReaching(duration, target);
    INFO(duration.ToString() << " target " << target.ToString() << " cutoff " << cutoff.ToString());
    REQUIRE(Add(cutoff, duration) >= target);
    REQUIRE(Add(cutoff.AddDays(-1), duration) < target);
  }
}

TEST_CASE("an instant before the epoch is in the minute that began before it, in Paris too", "[date][clock]") {
  // 1969-12-31T22:59:30Z is 23:59:30 in Paris: still the 31st (rounded toward zero, the
  // minute would be 23:00Z, already 1 January in Paris).
  CHECK(retention::DateInParis(-3630).ToString() == "1969-12-31");
  CHECK(retention::DateInParis(-3600).ToString() == "1970-01-01");
  CHECK(retention::DateInParis(-1).ToString() == "1970-01-01");
}
