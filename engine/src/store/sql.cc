#include "store/sql.h"

#include <fmt/format.h>

namespace retention {

std::string SqlDialect::Placeholder(int index) const {
  return kind == Kind::kSqlite ? "?" : fmt::format("${}", index);
}

std::string SqlDialect::DateParameter(int index) const {
  return kind == Kind::kSqlite ? "?" : fmt::format("${}::date", index);
}

std::string SqlDialect::FlagIsTrue(const std::string& e) const {
  return kind == Kind::kSqlite ? fmt::format("(COALESCE({}, 0) <> 0)", e) : fmt::format("COALESCE({}, FALSE)", e);
}

std::string SqlDialect::GroupedValue(const std::string& e) const {
  if (kind == Kind::kSqlite) return fmt::format("CAST(({}) AS TEXT) COLLATE BINARY", e);
  return fmt::format("(CASE WHEN ({0}) IS NULL THEN NULL ELSE format('%s', ({0})) END) COLLATE \"C\"", e);
}

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '.') out += "\".\"";
    else if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

std::string FactSql(const Binding& binding, const std::string& fact) {
  auto it = binding.facts.find(fact);
  if (it == binding.facts.end()) return "NULL";
  if (it->second.kind == FactSource::Kind::kSql) return "(" + it->second.sql + ")";
  return "t." + QuoteIdentifier(it->second.column);
}

namespace {

void Render(const Predicate& p, const Binding& b, const SqlDialect& d, SqlFragment* out) {
  auto param = [&](std::string value) {
    out->params.push_back(std::move(value));
    return static_cast<int>(out->params.size());
  };
  switch (p.kind) {
    case Predicate::Kind::kTrue: out->sql += "(1=1)"; return;
    case Predicate::Kind::kFalse: out->sql += "(1=0)"; return;
    case Predicate::Kind::kNull: out->sql += "(NULL = 1)"; return;
    case Predicate::Kind::kNot:
      if (p.args[0].kind == Predicate::Kind::kKnown) {  // IS NULL, which an index on the column serves
        out->sql += fmt::format("({} IS NULL)", FactSql(b, p.args[0].fact));
        return;
      }
      out->sql += "NOT ";
      Render(p.args[0], b, d, out);
      return;
    case Predicate::Kind::kAnd:
    case Predicate::Kind::kOr: {
      out->sql += "(";
      for (size_t i = 0; i < p.args.size(); ++i) {
        if (i) out->sql += p.kind == Predicate::Kind::kAnd ? " AND " : " OR ";
        Render(p.args[i], b, d, out);
      }
      out->sql += ")";
      return;
    }
    case Predicate::Kind::kDateLt: {
      int n = param(p.date.ToString());
      out->sql += fmt::format("({} < {})", FactSql(b, p.fact), d.DateParameter(n));
      return;
    }
    case Predicate::Kind::kFlag: out->sql += d.FlagIsTrue(FactSql(b, p.fact)); return;
    case Predicate::Kind::kKnown: out->sql += fmt::format("({} IS NOT NULL)", FactSql(b, p.fact)); return;
    case Predicate::Kind::kEnumEq: {
      int n = param(p.word);
      out->sql += fmt::format("({} = {})", FactSql(b, p.fact), d.Placeholder(n));
      return;
    }
  }
}

}  // namespace

SqlFragment RenderPredicate(const Predicate& predicate, const Binding& binding, const SqlDialect& dialect,
                            int first_param) {
  SqlFragment out;
  // Pre-fill so that numbering starts at first_param.
  out.params.resize(static_cast<size_t>(first_param - 1));
  Render(predicate, binding, dialect, &out);
  out.params.erase(out.params.begin(), out.params.begin() + (first_param - 1));
  return out;
}

}  // namespace retention
