// Civil dates and durations, with the arithmetic of article 641 of the Code de
// procédure civile.
//
// A Date is a day of the proleptic Gregorian calendar, with no time of day and no
// time zone. Adding N months gives the same day of the month N months later, or the
// last day of that month when it has no such day: 2024-01-31 + 1m = 2024-02-29,
// 2023-04-30 + 1m = 2023-05-30. Adding N years is adding 12 x N months. Weeks are 7
// days. Subtracting goes backwards by the same rule (2024-03-31 - 1m = 2024-02-29).
//
// Dates read from policies, configurations and records lie in 0001-01-01..9999-12-31 and
// durations are at most 9999 years (or as many months, weeks or days). Arithmetic never
// wraps: a result beyond the years -32767..32767 saturates at Date::Min() or Date::Max(),
// so a very long retention stays in the far future and can never become "due now".
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace retention {

class Date {
 public:
  // 1970-01-01.
  constexpr Date() = default;

  // Returns nullopt when (year, month, day) is not a real date (2023-02-30).
  static std::optional<Date> FromYmd(int year, unsigned month, unsigned day);
  // Parses exactly "YYYY-MM-DD" from 0001-01-01 to 9999-12-31; nullopt on anything else.
  static std::optional<Date> Parse(std::string_view text);
  // Clamped to [Min(), Max()].
  static Date FromDaysSinceEpoch(int64_t days);
  static Date FromChrono(std::chrono::year_month_day ymd);
  // The ends of the arithmetic range: -32767-01-01 and 32767-12-31.
  static Date Min();
  static Date Max();

  int year() const;
  unsigned month() const;
  unsigned day() const;
  int days_since_epoch() const { return days_; }
  std::chrono::year_month_day ToChrono() const;
  // "YYYY-MM-DD".
  std::string ToString() const;

  // Saturating (see the top of this file).
  Date AddDays(int64_t n) const { return FromDaysSinceEpoch(int64_t{days_} + n); }
  // Article 641 CPC: same day of the month, else the month's last day. Saturating.
  Date AddMonths(int64_t n) const;
  Date AddYears(int64_t n) const;
  Date EndOfMonth() const;
  Date EndOfYear() const;

  friend auto operator<=>(const Date&, const Date&) = default;

 private:
  int days_ = 0;
};

enum class DurationUnit { kDays, kWeeks, kMonths, kYears };

// A signed count of one unit ("5y", "-1d").
struct Duration {
  int count = 0;
  DurationUnit unit = DurationUnit::kDays;

  // The longest duration accepted from text, per unit: 9999 years, in any unit.
  static constexpr int kMaxYears = 9999;
  // Parses "<digits><unit>" with unit one of d, w, m, y ("5y", "18m", "3w", "60d");
  // nullopt when longer than kMaxYears years.
  static std::optional<Duration> Parse(std::string_view text);
  // "5y", "18m"...
  std::string ToString() const;
  friend bool operator==(const Duration&, const Duration&) = default;
};

// A date fact as a store gives it: "YYYY-MM-DD"; or a timestamp "YYYY-MM-DD[T ]hh:mm:ss[.f]"
// followed by "Z" or an offset (+hh, +hh:mm, +hhmm), converted to its civil date in
// Europe/Paris (ParisUtcOffsetMinutes); or the same timestamp without zone,
// a civil time already, whose date is taken as written. nullopt on anything else
// (trailing text, impossible dates or times). Uses no process-wide time zone state.
std::optional<Date> ParseDateFact(std::string_view text);

// Europe/Paris without the process time zone (no TZ, no localtime): the offset from UTC
// in minutes (60, or 120 in summer time, by tzdata's rules for France since 1976) at an
// instant given in minutes since the epoch, and the civil date there.
int ParisUtcOffsetMinutes(int64_t utc_minutes);
Date DateInParisAt(int64_t utc_minutes);

// date + duration, following the rules at the top of this file.
Date Add(Date date, Duration duration);
// The smallest date c such that Add(c, duration) >= target. Since Add is
// non-decreasing in its date, "Add(x, d) < target" is exactly "x < SmallestReaching(d, target)":
// this is how a due condition becomes a column compared with a constant.
Date SmallestReaching(Duration duration, Date target);

}  // namespace retention
