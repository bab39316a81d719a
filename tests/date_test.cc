#include <catch2/catch.hpp>
#include "retention/date.h"
using retention::Date;
TEST_CASE("placeholder", "[date]") { REQUIRE(Date::Parse("2023-04-30")->AddMonths(1).ToString() == "2023-05-30"); }
