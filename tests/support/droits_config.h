// The F01.droits deployment on SQLite that the C++ tests share: the rule bound to main.db's
// table `droits`, keyed by `id`, with its one fact. The binding starts on line 5 and is the
// text's last block, so a test adds a field to it by appending a line (line 10 onwards).
#pragma once

namespace retention::testing {

inline constexpr const char* kDroitsOnSqlite = R"(state: state.db
stores:
  main: {type: sqlite, path: main.db}
bindings:
  - rule: F01.droits
    store: main
    table: droits
    key: id
    facts: {fin_droits: fin_droits}
)";

}  // namespace retention::testing
