// The daemon's schedule: cron expressions against a table of next-fire times written
// by hand from the Europe/Paris rules (UTC+1, UTC+2 from the last Sunday of March to
// the last Sunday of October, changes at 01:00 UTC), both 2026 DST days included, and
// the offset checked against the system's tz database when it has Europe/Paris.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "retention/schedule.h"

using namespace std::chrono;
using retention::CronSchedule;
using retention::Instant;

namespace {

// "2026-03-29 01:00" (UTC) → an instant.
Instant Utc(const char* text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  REQUIRE(std::sscanf(text, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) == 5);
  return Instant{sys_days{year{y} / month{static_cast<unsigned>(mo)} / day{static_cast<unsigned>(d)}} + hours{h} +
                 minutes{mi}};
}

std::string Show(Instant t) {
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()));
  return buf;
}

struct Case {
  const char* expression;
  const char* after;     // UTC
  const char* expected;  // UTC
  const char* why;
};

const Case kCases[] = {
    {"30 2 * * *", "2026-01-10 12:00", "2026-01-11 01:30", "winter: 02:30 CET"},
    {"30 2 * * *", "2026-07-10 12:00", "2026-07-11 00:30", "summer: 02:30 CEST"},
    {"30 2 * * *", "2026-03-28 12:00", "2026-03-29 01:00", "29 March: 02:30 does not exist, runs at 03:00 CEST"},
    {"30 2 * * *", "2026-03-29 01:00", "2026-03-30 00:30", "and once only: next is the 30th"},
    {"0 3 * * *", "2026-03-28 12:00", "2026-03-29 01:00", "29 March: 03:00 CEST exists"},
    {"*/20 2 * * *", "2026-03-29 00:00", "2026-03-29 01:00", "02:00, 02:20, 02:40 collapse into 03:00 CEST"},
    {"*/20 2 * * *", "2026-03-29 01:00", "2026-03-30 00:00", "collapsed: run once"},
    {"0 * * * *", "2026-03-29 00:30", "2026-03-29 01:00", "hourly: 02:00 does not exist"},
    {"0 * * * *", "2026-03-29 01:00", "2026-03-29 02:00", "hourly: then 04:00 CEST"},
    {"30 2 * * *", "2026-10-24 12:00", "2026-10-25 00:30", "25 October: 02:30 exists twice, the first (CEST)"},
    {"30 2 * * *", "2026-10-25 00:30", "2026-10-26 01:30", "and once only: not again at 02:30 CET"},
    {"30 2 * * *", "2026-10-25 01:00", "2026-10-26 01:30", "after the change, 02:30 CET is skipped"},
    {"0 * * * *", "2026-10-25 00:00", "2026-10-25 02:00", "hourly: 02:00 CET repeated is skipped, 03:00 CET"},
    {"59 1 * * *", "2026-10-24 12:00", "2026-10-24 23:59", "01:59 CEST, before the repeated hour"},
    {"15 10 29 2 *", "2026-01-01 00:00", "2028-02-29 09:15", "29 February: the next leap year"},
    {"0 0 * * 7", "2026-11-23 00:00", "2026-11-28 23:00", "7 is Sunday"},
    {"0 0 * * sun", "2026-11-23 00:00", "2026-11-28 23:00", "names"},
    {"0 0 1 1 *", "2026-12-31 23:30", "2027-12-31 23:00", "already 1 January in Paris: next year"},
    {"0 9-17/4 * * 1-5", "2026-11-27 16:30", "2026-11-30 08:00", "Friday 17:30 → Monday 09:00"},
    {"0 0 1 jan,jul *", "2026-02-01 00:00", "2026-06-30 22:00", "1 July 00:00 CEST"},
    {"0 12 13 * fri", "2026-11-23 00:00", "2026-11-27 11:00", "day of month or day of week: Friday 27th"},
    {"0 12 13 * fri", "2026-11-27 11:00", "2026-12-04 11:00", "the next Friday comes before the 13th"},
    {"5/30 * * * *", "2026-11-23 10:00", "2026-11-23 10:05", "a/n: from a, every n"},
};

}  // namespace

TEST_CASE("cron next fire times in Europe/Paris with both 2026 DST days", "[schedule]") {
  for (const auto& c : kCases) {
    INFO(c.expression << " after " << c.after << ": " << c.why);
    auto cron = CronSchedule::Parse(c.expression);
    REQUIRE(cron.ok());
    CHECK(Show(cron->NextFire(Utc(c.after))) == c.expected);
  }
}

TEST_CASE("cron places a time the spring change skips at France's own change of that year", "[schedule]") {
  // The same rule as the offsets (date.h), not the EU's last Sunday of March.
  const Case cases[] = {
      {"30 1 * * *", "1976-03-27 12:00", "1976-03-28 00:00", "28 March 1976, 01:00 CET: 01:30 runs at 02:00 CEST"},
      {"30 2 * * *", "1977-04-02 12:00", "1977-04-03 01:00", "first Sunday of April 1977: 02:30 runs at 03:00 CEST"},
      {"30 2 * * *", "1977-04-03 01:00", "1977-04-04 00:30", "and once only"},
  };
  for (const auto& c : cases) {
    INFO(c.expression << " after " << c.after << ": " << c.why);
    auto cron = CronSchedule::Parse(c.expression);
    REQUIRE(cron.ok());
    CHECK(Show(cron->NextFire(Utc(c.after))) == c.expected);
  }
}

TEST_CASE("cron fires every night once across a year with two DST changes", "[schedule]") {
  auto cron = CronSchedule::Parse("30 2 * * *");
  REQUIRE(cron.ok());
  Instant t = Utc("2026-01-01 00:00");
  int fires = 0;
  while (t < Utc("2027-01-01 00:00")) {
    Instant next = cron->NextFire(t);
    REQUIRE(next > t);
    CHECK(next - t <= hours{25});
    t = next;
    ++fires;
  }
  CHECK(fires == 366);  // 1 January 2026 to 1 January 2027 (02:30 CET, the last one in 2027)
}

TEST_CASE("Europe/Paris offset changes at 01:00 UTC on the last Sundays of March and October", "[schedule]") {
  using retention::ParisUtcOffset;
  CHECK(ParisUtcOffset(Utc("2026-03-29 00:59")) == hours{1});
  CHECK(ParisUtcOffset(Utc("2026-03-29 01:00")) == hours{2});
  CHECK(ParisUtcOffset(Utc("2026-10-25 00:59")) == hours{2});
  CHECK(ParisUtcOffset(Utc("2026-10-25 01:00")) == hours{1});
  CHECK(ParisUtcOffset(Utc("2027-03-28 01:00")) == hours{2});
  CHECK(ParisUtcOffset(Utc("2027-03-27 01:00")) == hours{1});
}

TEST_CASE("cron offset agrees with the system tz database", "[schedule]") {
  // The tz database, read through localtime_r in a child process's environment.
  if (std::system("test -f /usr/share/zoneinfo/Europe/Paris") != 0) {
    WARN("no /usr/share/zoneinfo/Europe/Paris: comparison skipped");
    return;
  }
  for (Instant t = Utc("2025-01-01 00:30"); t < Utc("2028-01-01 00:00"); t += hours{7 * 24 + 1}) {
    long secs = static_cast<long>(t.time_since_epoch().count());
    std::string cmd = "TZ=Europe/Paris date -d @" + std::to_string(secs) + " +%z";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p);
    char buf[16] = {};
    REQUIRE(std::fgets(buf, sizeof buf, p));
    pclose(p);
    INFO(Show(t));
    CHECK(std::string(buf).substr(0, 5) == (retention::ParisUtcOffset(t) == hours{2} ? "+0200" : "+0100"));
  }
}

TEST_CASE("cron rejects malformed expressions naming the field", "[schedule]") {
  const std::pair<const char*, const char*> bad[] = {
      {"61 * * * *", "minute field: 61 is outside 0-59"},
      {"* * * *", "expected 5 fields"},
      {"* * * * * *", "expected 5 fields"},
      {"*/0 * * * *", "invalid step"},
      {"5-1 * * * *", "empty range"},
      {"0 0 30 2 *", "names no day that exists"},
      {"a * * * *", "'a' is not a number"},
      {"1, * * * *", "empty item"},
      {"0 24 * * *", "hour field: 24 is outside 0-23"},
      {"0 0 * 13 *", "month field: 13 is outside 1-12"},
      {"0 0 * * 8", "day of week field: 8 is outside 0-7"},
  };
  for (const auto& [expression, message] : bad) {
    INFO(expression);
    auto cron = CronSchedule::Parse(expression);
    REQUIRE_FALSE(cron.ok());
    CHECK_THAT(cron.status().message(), Catch::Contains(message));
  }
}
