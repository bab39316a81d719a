// When the daemon runs: a 5-field cron expression read in Europe/Paris civil time.
//
// Daylight saving time, honestly: a civil time that does not exist (the last Sunday of
// March, 02:00-02:59) fires once, at the first instant after it (03:00 summer time); a
// civil time that exists twice (the last Sunday of October, 02:00-02:59) fires once, at
// its first occurrence. Europe/Paris is computed from the EU rule in force since 1996
// (summer time from the last Sunday of March, 01:00 UTC, to the last Sunday of October,
// 01:00 UTC; UTC+1 otherwise), without touching the process's TZ.
#pragma once

#include <bitset>
#include <chrono>
#include <string>

#include "retention/status.h"

namespace retention {

using Instant = std::chrono::sys_seconds;

// Europe/Paris's offset from UTC at an instant: +1 h, or +2 h in summer time.
std::chrono::seconds ParisUtcOffset(Instant instant);

class CronSchedule {
 public:
  // "minute hour day-of-month month day-of-week": `*`, numbers, ranges `a-b`, lists
  // `a,b`, steps `*/n` and `a-b/n`, month and weekday names (jan, mon); weekday 0 or 7 is
  // Sunday. As in cron, when both the day of month and the day of week are restricted,
  // a day matching either fires. Errors name the field.
  static Result<CronSchedule> Parse(const std::string& expression);

  // The first instant strictly after `after` at which the schedule fires.
  Instant NextFire(Instant after) const;

  const std::string& expression() const { return expression_; }

 private:
  bool DayMatches(std::chrono::year_month_day day) const;

  std::string expression_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;
  std::bitset<13> months_;
  std::bitset<7> weekdays_;
  bool any_day_ = true;      // day of month was `*`
  bool any_weekday_ = true;  // day of week was `*`
};

}  // namespace retention
