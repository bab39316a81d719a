#include "retention/date.h"

#include <charconv>
#include <cstdio>

namespace retention {
namespace chr = std::chrono;

std::optional<Date> Date::FromYmd(int year, unsigned month, unsigned day) {
  chr::year_month_day ymd{chr::year{year}, chr::month{month}, chr::day{day}};
  if (!ymd.ok()) return std::nullopt;
  return FromChrono(ymd);
}

Date Date::FromChrono(chr::year_month_day ymd) {
  return FromDaysSinceEpoch(static_cast<int>(chr::sys_days{ymd}.time_since_epoch().count()));
}

chr::year_month_day Date::ToChrono() const { return chr::year_month_day{chr::sys_days{chr::days{days_}}}; }
int Date::year() const { return static_cast<int>(ToChrono().year()); }
unsigned Date::month() const { return static_cast<unsigned>(ToChrono().month()); }
unsigned Date::day() const { return static_cast<unsigned>(ToChrono().day()); }

std::optional<Date> Date::Parse(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](size_t pos, size_t len) -> std::optional<int> {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto y = number(0, 4), m = number(5, 2), d = number(8, 2);
  if (!y || !m || !d) return std::nullopt;
  return FromYmd(*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d));
}

std::string Date::ToString() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year(), month(), day());
  return buf;
}

Date Date::AddMonths(int n) const {
  auto ymd = ToChrono();
  // year_month arithmetic is exact on (year, month); the day is then clamped to the
  // month's last day, which is article 641's "else the last day of the month".
  chr::year_month ym = chr::year_month{ymd.year(), ymd.month()} + chr::months{n};
  chr::day last = chr::year_month_day_last{ym.year(), chr::month_day_last{ym.month()}}.day();
  chr::day day = ymd.day() <= last ? ymd.day() : last;
  return FromChrono(chr::year_month_day{ym.year(), ym.month(), day});
}

Date Date::EndOfMonth() const {
  auto ymd = ToChrono();
  return FromChrono(chr::year_month_day{chr::year_month_day_last{ymd.year(), chr::month_day_last{ymd.month()}}});
}

Date Date::EndOfYear() const { return *FromYmd(year(), 12, 31); }

std::optional<Duration> Duration::Parse(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int count = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, count);
  if (ec != std::errc() || ptr != text.data() + text.size() - 1 || count < 0) return std::nullopt;
  switch (text.back()) {
    case 'd': return Duration{count, DurationUnit::kDays};
    case 'w': return Duration{count, DurationUnit::kWeeks};
    case 'm': return Duration{count, DurationUnit::kMonths};
    case 'y': return Duration{count, DurationUnit::kYears};
    default: return std::nullopt;
  }
}

std::string Duration::ToString() const {
  static constexpr char kUnits[] = {'d', 'w', 'm', 'y'};
  return std::to_string(count) + kUnits[static_cast<int>(unit)];
}

Date Add(Date date, Duration duration) {
  switch (duration.unit) {
    case DurationUnit::kDays: return date.AddDays(duration.count);
    case DurationUnit::kWeeks: return date.AddDays(7 * duration.count);
    case DurationUnit::kMonths: return date.AddMonths(duration.count);
    case DurationUnit::kYears: return date.AddYears(duration.count);
  }
  return date;
}

Date SmallestReaching(Duration duration, Date target) {
  // Add(x, d) is non-decreasing in x, so bisect on x. The answer lies within
  // [target - |d| - 31 days, target + |d| + 31 days] for any month clamping.
  int span = 0;
  switch (duration.unit) {
    case DurationUnit::kDays: span = duration.count; break;
    case DurationUnit::kWeeks: span = 7 * duration.count; break;
    case DurationUnit::kMonths: span = 31 * duration.count; break;
    case DurationUnit::kYears: span = 366 * duration.count; break;
  }
  if (span < 0) span = -span;
  int lo = target.days_since_epoch() - span - 62;
  int hi = target.days_since_epoch() + span + 62;  // Add(hi, d) >= target
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (Add(Date::FromDaysSinceEpoch(mid), duration) >= target) hi = mid; else lo = mid + 1;
  }
  return Date::FromDaysSinceEpoch(lo);
}

}  // namespace retention
