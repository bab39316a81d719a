// SQL text for SQL connectors: quoted identifiers, fact expressions and predicates with
// bound parameters. Identifiers come from configuration, are validated at load
// (IsValidIdentifier) and are always quoted; values are always parameters.
#pragma once

#include <string>
#include <vector>

#include "retention/deployment.h"
#include "retention/predicate.h"

namespace retention {

struct SqlDialect {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string Placeholder(int index) const;       // 1-based: "?" or "$1"
  std::string DateParameter(int index) const;     // "?" or "$1::date"
  std::string FlagIsTrue(const std::string& expression) const;
  // A value to group rows by, which is exactly the text a scan reads, compared bytewise:
  // rows in one group read as the same text. Grouping by the value itself would merge
  // what the store calls equal but reads differently: a NOCASE or non-deterministic
  // collation ('a', 'A'), SQLite's 1 and 1.0, PostgreSQL's numeric 1.0 and 1.00. SQLite:
  // CAST AS TEXT (its text conversion) COLLATE BINARY; PostgreSQL: format('%s'), the
  // type's output function as libpq returns it (char(n) keeps its padding, unlike
  // ::text), NULL kept NULL, COLLATE "C".
  std::string GroupedValue(const std::string& expression) const;
};

// "name" or "schema"."name", with embedded quotes doubled.
std::string QuoteIdentifier(const std::string& name);

// The SQL expression of one fact of a binding: t."column" or (the configured SQL).
std::string FactSql(const Binding& binding, const std::string& fact);

struct SqlFragment {
  std::string sql;
  std::vector<std::string> params;  // in placeholder order
};

// Renders a predicate as a WHERE fragment; placeholders are numbered from first_param.
SqlFragment RenderPredicate(const Predicate& predicate, const Binding& binding, const SqlDialect& dialect,
                            int first_param = 1);

}  // namespace retention
