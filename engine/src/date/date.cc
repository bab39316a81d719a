#include "retention/date.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include <fmt/format.h>

#include "date/date_internal.h"

namespace retention {
namespace chr = std::chrono;
namespace {

// The arithmetic range: every year std::chrono::year can hold.
constexpr int64_t kMinDays = chr::sys_days{chr::year_month_day{chr::year::min(), chr::January, chr::day{1}}}
                                 .time_since_epoch().count();
constexpr int64_t kMaxDays = chr::sys_days{chr::year_month_day{chr::year::max(), chr::December, chr::day{31}}}
                                 .time_since_epoch().count();
constexpr int64_t kMinMonths = int64_t{static_cast<int>(chr::year::min())} * 12;
constexpr int64_t kMaxMonths = int64_t{static_cast<int>(chr::year::max())} * 12 + 11;

// How many units make kMaxYears years, by unit (d, w, m, y).
constexpr int64_t kMaxCount[] = {int64_t{Duration::kMaxYears} * 366, int64_t{Duration::kMaxYears} * 53,
                                 int64_t{Duration::kMaxYears} * 12, Duration::kMaxYears};

}  // namespace

Date Date::FromDaysSinceEpoch(int64_t days) {
  Date d;
  d.days_ = static_cast<int>(std::clamp(days, kMinDays, kMaxDays));
  return d;
}
Date Date::Min() { return FromDaysSinceEpoch(kMinDays); }
Date Date::Max() { return FromDaysSinceEpoch(kMaxDays); }

std::optional<Date> Date::FromYmd(int year, unsigned month, unsigned day) {
  if (year < static_cast<int>(chr::year::min()) || year > static_cast<int>(chr::year::max())) return std::nullopt;
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
  if (!y || !m || !d || *y < 1) return std::nullopt;
  return FromYmd(*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d));
}

namespace {

// "hh:mm:ss[.fraction]" at the start of `t`; minutes since midnight, the rest in `rest`.
std::optional<int> ParseTimeOfDay(std::string_view t, std::string_view* rest) {
  auto two = [&](size_t pos) -> int {
    if (t.size() < pos + 2 || !std::isdigit(static_cast<unsigned char>(t[pos])) ||
        !std::isdigit(static_cast<unsigned char>(t[pos + 1])))
      return -1;
    return (t[pos] - '0') * 10 + (t[pos + 1] - '0');
  };
  int h = two(0), m = two(3), sec = two(6);
  if (h < 0 || m < 0 || sec < 0 || t[2] != ':' || t[5] != ':' || h > 23 || m > 59 || sec > 60) return std::nullopt;
  size_t i = 8;
  if (i < t.size() && t[i] == '.') {
    size_t digits = ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    if (i == digits) return std::nullopt;
  }
  *rest = t.substr(i);
  return h * 60 + m;
}

// "Z", "+hh", "+hh:mm" or "+hhmm" (or "-"), in minutes east of UTC.
std::optional<int> ParseUtcOffset(std::string_view z) {
  if (z == "Z" || z == "z") return 0;
  if (z.size() < 3 || (z[0] != '+' && z[0] != '-')) return std::nullopt;
  std::string digits;
  for (size_t i = 1; i < z.size(); ++i) {
    if (i == 3 && z[i] == ':' && z.size() == 6) continue;
    if (!std::isdigit(static_cast<unsigned char>(z[i]))) return std::nullopt;
    digits += z[i];
  }
  if (digits.size() != 2 && digits.size() != 4) return std::nullopt;
  int h = (digits[0] - '0') * 10 + (digits[1] - '0');
  int m = digits.size() == 4 ? (digits[2] - '0') * 10 + (digits[3] - '0') : 0;
  if (h > 23 || m > 59) return std::nullopt;
  return (z[0] == '-' ? -1 : 1) * (h * 60 + m);
}

// Minutes since the epoch (UTC) at 01:00 UTC on a Sunday.
int64_t SundayAt1Utc(chr::sys_days day) { return int64_t{day.time_since_epoch().count()} * 1440 + 60; }
int64_t LastSundayAt1Utc(int year, chr::month month) {
  return SundayAt1Utc(chr::year_month_weekday_last{chr::year{year}, month, chr::weekday_last{chr::Sunday}});
}

}  // namespace

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

std::optional<Date> ParseDateFact(std::string_view text) {
  if (text.size() <= 10) return Date::Parse(text);
  auto date = Date::Parse(text.substr(0, 10));
  if (!date || (text[10] != 'T' && text[10] != 't' && text[10] != ' ')) return std::nullopt;
  std::string_view zone;
  auto minutes = ParseTimeOfDay(text.substr(11), &zone);
  if (!minutes) return std::nullopt;
  if (zone.empty()) return date;  // a civil time already
  auto offset = ParseUtcOffset(zone);
  if (!offset) return std::nullopt;
  return DateInParisAt(int64_t{date->days_since_epoch()} * 1440 + *minutes - *offset);
}

SummerTime ParisSummerTime(int year) {
  // France's summer time (tzdata's Europe/Paris since 1976): changes at 01:00 UTC.
  if (year < 1976) return {};
  if (year == 1976)  // France's own first year: 28 March 00:00 UTC to 25 September 23:00 UTC
    return {SundayAt1Utc(chr::sys_days{chr::year{1976} / chr::March / 28}) - 60,
            SundayAt1Utc(chr::sys_days{chr::year{1976} / chr::September / 26}) - 120};
  if (year <= 1980)  // first Sunday of April to the last of September (1 October 1978)
    return {SundayAt1Utc(chr::year_month_weekday{chr::year{year}, chr::April, chr::weekday_indexed{chr::Sunday, 1}}),
            year == 1978 ? SundayAt1Utc(chr::sys_days{chr::year{1978} / chr::October / 1})
                         : LastSundayAt1Utc(year, chr::September)};
  // the last Sunday of March, to the last of September until 1995, of October since
  return {LastSundayAt1Utc(year, chr::March), LastSundayAt1Utc(year, year <= 1995 ? chr::September : chr::October)};
}

int ParisUtcOffsetMinutes(int64_t utc_minutes) {
  int year = Date::FromDaysSinceEpoch(FloorDiv(utc_minutes, 1440)).year();  // the UTC year, up to a day
  SummerTime summer = ParisSummerTime(year);
  return utc_minutes >= summer.start && utc_minutes < summer.end ? 120 : 60;
}

Date DateInParisAt(int64_t utc_minutes) {
  return Date::FromDaysSinceEpoch(FloorDiv(utc_minutes + ParisUtcOffsetMinutes(utc_minutes), 1440));
}

std::string Date::ToString() const {
  // Years 1..9999 (the checked range, docs/policy-format.md): four digits, no sign.
  int y = year();
  unsigned m = month(), d = day();
  if (y < 0 || y > 9999) return fmt::format("{:04}-{:02}-{:02}", y, m, d);
  char buf[10] = {static_cast<char>('0' + y / 1000), static_cast<char>('0' + y / 100 % 10),
                  static_cast<char>('0' + y / 10 % 10), static_cast<char>('0' + y % 10), '-',
                  static_cast<char>('0' + m / 10), static_cast<char>('0' + m % 10), '-',
                  static_cast<char>('0' + d / 10), static_cast<char>('0' + d % 10)};
  return std::string(buf, sizeof buf);
}

Date Date::AddYears(int64_t n) const {
  n = std::clamp<int64_t>(n, kMinMonths - kMaxMonths, kMaxMonths - kMinMonths);
  return AddMonths(12 * n);
}

Date Date::AddMonths(int64_t n) const {
  auto ymd = ToChrono();
  // Month counts are exact on (year, month), saturating at the range's ends; the day is
  // then clamped to the month's last day, article 641's "else the last day of the month".
  int64_t from = int64_t{static_cast<int>(ymd.year())} * 12 + (static_cast<unsigned>(ymd.month()) - 1);
  n = std::clamp<int64_t>(n, kMinMonths - kMaxMonths, kMaxMonths - kMinMonths);
  int64_t to = from + n;
  if (to < kMinMonths) return Min();
  if (to > kMaxMonths) return Max();
  int64_t year = to >= 0 ? to / 12 : -((-to + 11) / 12);  // floor(to / 12)
  chr::year_month ym{chr::year{static_cast<int>(year)}, chr::month{static_cast<unsigned>(to - year * 12) + 1}};
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
  static constexpr std::string_view kUnits = "dwmy";
  size_t unit = kUnits.find(text.back());
  if (unit == std::string_view::npos || count > kMaxCount[unit]) return std::nullopt;
  return Duration{count, static_cast<DurationUnit>(unit)};
}

std::string Duration::ToString() const {
  static constexpr char kUnits[] = {'d', 'w', 'm', 'y'};
  return std::to_string(count) + kUnits[static_cast<int>(unit)];
}

Date Add(Date date, Duration duration) {
  switch (duration.unit) {
    case DurationUnit::kDays: return date.AddDays(duration.count);
    case DurationUnit::kWeeks: return date.AddDays(int64_t{7} * duration.count);
    case DurationUnit::kMonths: return date.AddMonths(duration.count);
    case DurationUnit::kYears: return date.AddYears(duration.count);
  }
  return date;
}

Date SmallestReaching(Duration duration, Date target) {
  // Add(x, d) is non-decreasing in x, so bisect on x. The answer lies within
  // [target - |d| - 31 days, target + |d| + 31 days] for any month clamping.
  // Add saturates, so it stays non-decreasing; the bounds stay in 64 bits.
  int64_t span = 0;
  switch (duration.unit) {
    case DurationUnit::kDays: span = duration.count; break;
    case DurationUnit::kWeeks: span = int64_t{7} * duration.count; break;
    case DurationUnit::kMonths: span = int64_t{31} * duration.count; break;
    case DurationUnit::kYears: span = int64_t{366} * duration.count; break;
  }
  if (span < 0) span = -span;
  int64_t lo = std::max(kMinDays, target.days_since_epoch() - span - 62);
  int64_t hi = std::min(kMaxDays, target.days_since_epoch() + span + 62);  // Add(hi, d) >= target
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (Add(Date::FromDaysSinceEpoch(mid), duration) >= target) hi = mid; else lo = mid + 1;
  }
  return Date::FromDaysSinceEpoch(lo);
}

}  // namespace retention
