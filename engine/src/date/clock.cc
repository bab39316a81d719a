#include "retention/clock.h"

#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace retention {
namespace {

class SystemClockImpl : public Clock {
 public:
  Date Today() const override { return DateInParis(std::time(nullptr)); }
};

}  // namespace

Date DateInParis(std::time_t now) {
    // tzdata's Europe/Paris rules give the civil date there (UTC+1, or UTC+2 in summer).
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    std::tm tm{};
    const char* saved = std::getenv("TZ");
    std::string previous = saved ? saved : "";
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    localtime_r(&now, &tm);
    if (saved) setenv("TZ", previous.c_str(), 1); else unsetenv("TZ");
    tzset();
    return *Date::FromYmd(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1), static_cast<unsigned>(tm.tm_mday));
}

const Clock& SystemClock() {
  static const SystemClockImpl clock;
  return clock;
}

}  // namespace retention
