// Civil dates and durations, with the arithmetic of article 641 of the Code de
// procédure civile.
//
// A Date is a day of the proleptic Gregorian calendar, with no time of day and no
// time zone. Adding N months gives the same day of the month N months later, or the
// last day of that month when it has no such day: 2024-01-31 + 1m = 2024-02-29,
// 2023-04-30 + 1m = 2023-05-30. Adding N years is adding 12 x N months. Weeks are 7
// days. Subtracting goes backwards by the same rule (2024-03-31 - 1m = 2024-02-29).
#pragma once

#include <chrono>
#include <compare>
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
  // Parses exactly "YYYY-MM-DD"; nullopt on anything else.
  static std::optional<Date> Parse(std::string_view text);
  static Date FromDaysSinceEpoch(int days) { Date d; d.days_ = days; return d; }
  static Date FromChrono(std::chrono::year_month_day ymd);

  int year() const;
  unsigned month() const;
  unsigned day() const;
  int days_since_epoch() const { return days_; }
  std::chrono::year_month_day ToChrono() const;
  // "YYYY-MM-DD".
  std::string ToString() const;

  Date AddDays(int n) const { return FromDaysSinceEpoch(days_ + n); }
  // Article 641 CPC: same day of the month, else the month's last day.
  Date AddMonths(int n) const;
  Date AddYears(int n) const { return AddMonths(12 * n); }
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

  // Parses "<digits><unit>" with unit one of d, w, m, y ("5y", "18m", "3w", "60d").
  static std::optional<Duration> Parse(std::string_view text);
  // "5y", "18m"...
  std::string ToString() const;
  friend bool operator==(const Duration&, const Duration&) = default;
};

// date + duration, following the rules at the top of this file.
Date Add(Date date, Duration duration);
// The smallest date c such that Add(c, duration) >= target. Since Add is
// non-decreasing in its date, "Add(x, d) < target" is exactly "x < SmallestReaching(d, target)":
// this is how a due condition becomes a column compared with a constant.
Date SmallestReaching(Duration duration, Date target);

}  // namespace retention
