#include "retention/schedule.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "date/date_internal.h"
#include "retention/date.h"

namespace retention {
namespace {

using namespace std::chrono;

struct Field {
  const char* name;
  int min, max;
  std::vector<std::string> names;  // names[i] is min + i
};

const Field kFields[] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month", 1, 12, {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
    {"day of week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
};

Result<int> ParseValue(const std::string& text, const Field& f) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (size_t i = 0; i < f.names.size(); ++i)
    if (lower == f.names[i]) return f.min + static_cast<int>(i);
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return Status::InvalidArgument(fmt::format("{} field: '{}' is not a number", f.name, text));
  if (v < f.min || v > f.max)
    return Status::InvalidArgument(fmt::format("{} field: {} is outside {}-{}", f.name, v, f.min, f.max));
  return v;
}

// One comma-separated item: `*`, `a`, `a-b`, each optionally `/step`.
Status ParseItem(const std::string& item, const Field& f, uint64_t* mask) {
  std::string range = item;
  int step = 1;
  if (auto slash = item.find('/'); slash != std::string::npos) {
    range = item.substr(0, slash);
    auto [end, ec] = std::from_chars(item.data() + slash + 1, item.data() + item.size(), step);
    if (ec != std::errc() || end != item.data() + item.size() || step < 1 || slash + 1 == item.size())
      return Status::InvalidArgument(fmt::format("{} field: '{}' has an invalid step", f.name, item));
  }
  int lo = f.min, hi = f.max;
  if (range != "*") {
    auto dash = range.find('-');
    auto first = ParseValue(range.substr(0, dash), f);
    if (!first.ok()) return first.status();
    lo = hi = *first;
    if (dash != std::string::npos) {
      auto last = ParseValue(range.substr(dash + 1), f);
      if (!last.ok()) return last.status();
      hi = *last;
    } else if (item.find('/') != std::string::npos) {
      hi = f.max;  // `a/n`: from a to the end
    }
    if (lo > hi) return Status::InvalidArgument(fmt::format("{} field: '{}' is an empty range", f.name, range));
  }
  for (int v = lo; v <= hi; v += step) *mask |= uint64_t{1} << v;
  return Status::Ok();
}

Status ParseField(const std::string& text, const Field& f, uint64_t* mask) {
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ','))
    if (Status s = ParseItem(item, f, mask); !s.ok()) return s;
  if (text.empty() || text.back() == ',')
    return Status::InvalidArgument(fmt::format("{} field: '{}' has an empty item", f.name, text));
  return Status::Ok();
}

// A civil time in Paris, held as if it were UTC.
using Wall = sys_seconds;

// The first instant at which Paris's clocks show `wall`; when they never do (the spring
// gap), the first instant after it: the change to summer time.
Instant FirstInstantAt(Wall wall) {
  Instant summer = Instant{wall.time_since_epoch()} - hours{2};
  if (ParisUtcOffset(summer) == hours{2}) return summer;
  Instant winter = Instant{wall.time_since_epoch()} - hours{1};
  if (ParisUtcOffset(winter) == hours{1}) return winter;
  // A gap, so a year with summer time: its start (date.h's one rule for Paris).
  int y = static_cast<int>(year_month_day{floor<days>(wall)}.year());
  return Instant{minutes{ParisSummerTime(y).start}};
}

// A schedule that names only days that do not exist (30 February) would never fire.
bool SomeDayExists(const std::bitset<32>& days, const std::bitset<13>& months) {
  static const int kLongest[] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int m = 1; m <= 12; ++m)
    for (int d = 1; d <= kLongest[m]; ++d)
      if (months[m] && days[d]) return true;
  return false;
}

}  // namespace

seconds ParisUtcOffset(Instant t) {
  // date.h: the one rule for Paris.
  return minutes{retention::ParisUtcOffsetMinutes(floor<minutes>(t).time_since_epoch().count())};
}

Result<CronSchedule> CronSchedule::Parse(const std::string& expression) {
  std::stringstream in(expression);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5)
    return Status::InvalidArgument(fmt::format("cron '{}': expected 5 fields (minute hour day-of-month month "
                                               "day-of-week), found {}", expression, fields.size()));
  uint64_t masks[5] = {};
  for (size_t i = 0; i < 5; ++i)
    if (Status s = ParseField(fields[i], kFields[i], &masks[i]); !s.ok())
      return Status::InvalidArgument(fmt::format("cron '{}': {}", expression, s.message()));
  CronSchedule c;
  c.expression_ = expression;
  c.minutes_ = std::bitset<60>(masks[0]);
  c.hours_ = std::bitset<24>(masks[1]);
  c.days_ = std::bitset<32>(masks[2]);
  c.months_ = std::bitset<13>(masks[3]);
  c.weekdays_ = std::bitset<7>(masks[4] | (masks[4] >> 7));  // 7 is Sunday, as 0
  c.any_day_ = fields[2] == "*";
  c.any_weekday_ = fields[4] == "*";
  if (c.any_weekday_ && !SomeDayExists(c.days_, c.months_))
    return Status::InvalidArgument(fmt::format("cron '{}': names no day that exists", expression));
  return c;
}

bool CronSchedule::DayMatches(year_month_day ymd) const {
  if (!months_[static_cast<unsigned>(ymd.month())]) return false;
  bool dom = days_[static_cast<unsigned>(ymd.day())];
  bool dow = weekdays_[weekday{sys_days{ymd}}.c_encoding()];
  if (any_day_ && any_weekday_) return true;
  if (any_day_) return dow;
  if (any_weekday_) return dom;
  return dom || dow;
}

Instant CronSchedule::NextFire(Instant after) const {
  Wall wall_after = Wall{after.time_since_epoch()} + ParisUtcOffset(after);
  sys_days first = floor<days>(wall_after);
  for (sys_days day = first; day < first + days{366 * 9}; day += days{1}) {
    if (!DayMatches(year_month_day{day})) continue;
    for (int h = 0; h < 24; ++h) {
      if (!hours_[h]) continue;
      for (int m = 0; m < 60; ++m) {
        if (!minutes_[m]) continue;
        Wall wall = Wall{day} + hours{h} + minutes{m};
        if (wall <= wall_after) continue;  // earlier civil times map to earlier instants
        if (Instant at = FirstInstantAt(wall); at > after) return at;
      }
    }
  }
  return Instant::max();
}

}  // namespace retention
