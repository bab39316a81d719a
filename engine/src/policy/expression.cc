#include "policy/expression.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace retention::internal {
namespace {

struct Token {
  enum class Kind { kIdent, kDate, kDuration, kOp, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;
  size_t offset = 0;
  Duration duration;
  Date date;
};

bool IsIdentStart(char c) { return std::islower(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Splits the text into tokens; lexical errors are reported and the bad span skipped.
std::vector<Token> Lex(const std::string& s, std::vector<ExprError>* errors) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
    Token t;
    t.offset = i;
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '-')) ++j;
      std::string num = s.substr(i, j - i);
      if (num.size() == 10 && num[4] == '-' && num[7] == '-') {
        auto d = Date::Parse(num);
        if (!d) errors->push_back({i, fmt::format("'{}' is not a real date (expected YYYY-MM-DD)", num)});
        t.kind = Token::Kind::kDate;
        t.date = d.value_or(Date());
        t.text = num;
        out.push_back(t);
        i = j;
        continue;
      }
      j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      size_t k = j;
      while (k < s.size() && s[k] == ' ') ++k;
      size_t u = k;
      while (u < s.size() && std::isalpha(static_cast<unsigned char>(s[u]))) ++u;
      std::string unit = s.substr(k, u - k);
      auto d = (k == j) ? Duration::Parse(s.substr(i, u - i)) : std::nullopt;
      if (!d) {
        errors->push_back({i, fmt::format("bad duration '{}': expected a number and a unit "
                                          "d, w, m or y with no space, e.g. 5y, 18m, 3w, 60d",
                                          s.substr(i, u - i))});
        d = Duration{};
      }
      t.kind = Token::Kind::kDuration;
      t.duration = *d;
      t.text = s.substr(i, u - i);
      out.push_back(t);
      i = u;
      continue;
    }
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < s.size() && IsIdentChar(s[j])) ++j;
      t.kind = Token::Kind::kIdent;
      t.text = s.substr(i, j - i);
      out.push_back(t);
      i = j;
      continue;
    }
    static const char* kOps[] = {"<=", ">=", "==", "!=", "<", ">", "+", "-", "(", ")", ","};
    bool matched = false;
    for (const char* op : kOps) {
      std::string_view v(op);
      if (s.compare(i, v.size(), v) == 0) {
        t.kind = Token::Kind::kOp;
        t.text = std::string(v);
        out.push_back(t);
        i += v.size();
        matched = true;
        break;
      }
    }
    if (!matched) {
      errors->push_back({i, fmt::format("unexpected character '{}'", c)});
      ++i;
    }
  }
  Token end;
  end.offset = s.size();
  out.push_back(end);
  return out;
}

class Parser {
 public:
  Parser(const std::string& text, const Vocabulary& vocabulary, std::vector<ExprError>* errors)
      : text_(text), vocabulary_(vocabulary), errors_(errors), tokens_(Lex(text, errors)) {}

  std::optional<DateExpr> WholeDate() {
    auto e = Date_();
    ExpectEnd();
    return Finish(std::move(e));
  }
  std::optional<CondExpr> WholeCondition() {
    auto e = Or();
    ExpectEnd();
    return Finish(std::move(e));
  }

 private:
  template <typename T>
  std::optional<T> Finish(std::optional<T> e) {
    if (failed_ || !errors_->empty()) return std::nullopt;
    return e;
  }
  // Nesting is bounded: real rules nest a few levels, and the parenthesis back-tracking
  // in Not() doubles the work per level.
  static constexpr int kMaxDepth = 16;
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* p) : p_(p) { ++p_->depth_; }
    ~DepthGuard() { --p_->depth_; }
    bool TooDeep() {
      if (p_->depth_ <= kMaxDepth) return false;
      p_->Fail(p_->Peek().offset, fmt::format("expression nested too deeply (more than {} levels)", kMaxDepth));
      return true;
    }
   private:
    Parser* p_;
  };

  const Token& Peek() const { return tokens_[pos_]; }
  bool IsOp(const char* op) const { return Peek().kind == Token::Kind::kOp && Peek().text == op; }
  bool IsWord(const char* w) const { return Peek().kind == Token::Kind::kIdent && Peek().text == w; }
  std::string Found() const {
    return Peek().kind == Token::Kind::kEnd ? "the end of the expression" : "'" + Peek().text + "'";
  }
  void Fail(size_t offset, std::string message) {
    if (!failed_) errors_->push_back({offset, std::move(message)});
    failed_ = true;
  }
  bool Expect(const char* op) {
    if (IsOp(op)) { ++pos_; return true; }
    Fail(Peek().offset, fmt::format("expected '{}', found {}", op, Found()));
    return false;
  }
  void ExpectEnd() {
    if (!failed_ && Peek().kind != Token::Kind::kEnd)
      Fail(Peek().offset, fmt::format("unexpected {} after a complete expression", Found()));
  }

  const FactDefinition* FindFact(const Token& t) {
    const FactDefinition* def = vocabulary_.Find(t.text);
    if (!def) Fail(t.offset, fmt::format("unknown fact '{}' (not in the vocabulary facts.yaml)", t.text));
    return def;
  }

  std::optional<DateExpr> Date_() {
    DepthGuard guard(this);
    if (guard.TooDeep()) return std::nullopt;
    auto e = Term();
    while (e && (IsOp("+") || IsOp("-"))) {
      bool minus = Peek().text == "-";
      ++pos_;
      if (Peek().kind != Token::Kind::kDuration) {
        Fail(Peek().offset, fmt::format("expected a duration (e.g. 5y, 18m, 3w, 60d) after '{}', found {}",
                                        minus ? "-" : "+", Found()));
        return std::nullopt;
      }
      DateExpr off;
      off.kind = DateExpr::Kind::kOffset;
      off.offset = Peek().duration;
      if (minus) off.offset.count = -off.offset.count;
      off.args.push_back(std::move(*e));
      ++pos_;
      e = std::move(off);
    }
    return e;
  }

  std::optional<DateExpr> Term() {
    const Token& t = Peek();
    if (t.kind == Token::Kind::kDate) {
      ++pos_;
      DateExpr e;
      e.kind = DateExpr::Kind::kLiteral;
      e.literal = t.date;
      return e;
    }
    if (IsOp("(")) {
      ++pos_;
      auto e = Date_();
      if (!Expect(")")) return std::nullopt;
      return e;
    }
    if (t.kind != Token::Kind::kIdent) {
      Fail(t.offset, fmt::format("expected a date (a fact, YYYY-MM-DD, max(...), min(...), "
                                 "end_of_month(...) or end_of_year(...)), found {}", Found()));
      return std::nullopt;
    }
    static const std::pair<const char*, DateExpr::Kind> kFunctions[] = {
        {"max", DateExpr::Kind::kMax}, {"min", DateExpr::Kind::kMin},
        {"end_of_month", DateExpr::Kind::kEndOfMonth}, {"end_of_year", DateExpr::Kind::kEndOfYear}};
    for (auto [name, kind] : kFunctions) {
      if (t.text != name || tokens_[pos_ + 1].text != "(") continue;
      pos_ += 2;
      DateExpr e;
      e.kind = kind;
      do {
        auto arg = Date_();
        if (!arg) return std::nullopt;
        e.args.push_back(std::move(*arg));
      } while (IsOp(",") && (++pos_, true));
      if (!Expect(")")) return std::nullopt;
      bool unary = kind == DateExpr::Kind::kEndOfMonth || kind == DateExpr::Kind::kEndOfYear;
      if (unary && e.args.size() != 1) Fail(t.offset, fmt::format("{}() takes one date", name));
      if (!unary && e.args.size() < 2) Fail(t.offset, fmt::format("{}() takes at least two dates", name));
      return e;
    }
    ++pos_;
    const FactDefinition* def = FindFact(t);
    if (!def) return std::nullopt;
    if (def->type != FactType::kDate) {
      Fail(t.offset, fmt::format("fact '{}' is a {}, but a date is expected here", t.text, FactTypeName(def->type)));
      return std::nullopt;
    }
    DateExpr e;
    e.kind = DateExpr::Kind::kFact;
    e.fact = t.text;
    return e;
  }

  std::optional<CondExpr> Or() { return Chain("or", CondExpr::Kind::kOr, &Parser::And); }
  std::optional<CondExpr> And() { return Chain("and", CondExpr::Kind::kAnd, &Parser::Not); }

  std::optional<CondExpr> Chain(const char* word, CondExpr::Kind kind, std::optional<CondExpr> (Parser::*next)()) {
    auto first = (this->*next)();
    if (!first || !IsWord(word)) return first;
    CondExpr e;
    e.kind = kind;
    e.args.push_back(std::move(*first));
    while (IsWord(word)) {
      ++pos_;
      auto more = (this->*next)();
      if (!more) return std::nullopt;
      e.args.push_back(std::move(*more));
    }
    return e;
  }

  std::optional<CondExpr> Not() {
    DepthGuard guard(this);
    if (guard.TooDeep()) return std::nullopt;
    if (IsWord("not")) {
      ++pos_;
      auto inner = Not();
      if (!inner) return std::nullopt;
      CondExpr e;
      e.kind = CondExpr::Kind::kNot;
      e.args.push_back(std::move(*inner));
      return e;
    }
    if (IsOp("(")) {
      // A parenthesis opens either a condition or a date operand of a comparison:
      // try the condition first, then fall back.
      size_t save = pos_;
      size_t errors = errors_->size();
      ++pos_;
      auto inner = Or();
      if (inner && IsOp(")")) {
        ++pos_;
        if (!IsComparison()) return inner;
      }
      pos_ = save;
      failed_ = false;
      errors_->resize(errors);
    }
    const Token& t = Peek();
    if (t.kind == Token::Kind::kIdent && !IsFunction(t) && (!IsComparisonAt(pos_ + 1) || IsEnum(t))) {
      ++pos_;
      const FactDefinition* def = FindFact(t);
      if (!def) return std::nullopt;
      CondExpr e;
      e.fact = t.text;
      if (def->type == FactType::kEnum) {
        if (!(IsOp("==") || IsOp("!="))) {
          Fail(Peek().offset, fmt::format("enumeration '{}' must be compared: {} == <one of {}>", t.text, t.text,
                                          fmt::join(def->values, ", ")));
          return std::nullopt;
        }
        e.negate = Peek().text == "!=";
        ++pos_;
        const Token& w = Peek();
        if (w.kind != Token::Kind::kIdent ||
            std::find(def->values.begin(), def->values.end(), w.text) == def->values.end()) {
          Fail(w.offset, fmt::format("'{}' is not a value of '{}' (expected one of {})", w.text, t.text,
                                     fmt::join(def->values, ", ")));
          return std::nullopt;
        }
        ++pos_;
        e.kind = CondExpr::Kind::kEnumEq;
        e.word = w.text;
        return e;
      }
      e.kind = def->type == FactType::kFlag ? CondExpr::Kind::kFlag : CondExpr::Kind::kKnown;
      return e;
    }
    auto left = Date_();
    if (!left) return std::nullopt;
    if (!IsComparison()) {
      Fail(Peek().offset, fmt::format("expected a comparison (<, <=, >, >=, ==, !=) after a date, found {}", Found()));
      return std::nullopt;
    }
    static const std::pair<const char*, CondExpr::Cmp> kCmps[] = {
        {"<", CondExpr::Cmp::kLt}, {"<=", CondExpr::Cmp::kLe}, {">", CondExpr::Cmp::kGt},
        {">=", CondExpr::Cmp::kGe}, {"==", CondExpr::Cmp::kEq}, {"!=", CondExpr::Cmp::kNe}};
    CondExpr e;
    e.kind = CondExpr::Kind::kCompare;
    for (auto [op, cmp] : kCmps)
      if (Peek().text == op) e.cmp = cmp;
    ++pos_;
    auto right = Date_();
    if (!right) return std::nullopt;
    e.dates.push_back(std::move(*left));
    e.dates.push_back(std::move(*right));
    return e;
  }

  bool IsEnum(const Token& t) const {
    const FactDefinition* def = vocabulary_.Find(t.text);
    return def && def->type == FactType::kEnum;
  }
  bool IsFunction(const Token& t) const {
    return (t.text == "max" || t.text == "min" || t.text == "end_of_month" || t.text == "end_of_year") &&
           tokens_[pos_ + 1].text == "(";
  }
  bool IsComparisonAt(size_t p) const {
    const Token& t = tokens_[p];
    return t.kind == Token::Kind::kOp &&
           (t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=" || t.text == "==" ||
            t.text == "!=" || t.text == "+" || t.text == "-");
  }
  bool IsComparison() const {
    const Token& t = Peek();
    return t.kind == Token::Kind::kOp && (t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=" ||
                                          t.text == "==" || t.text == "!=");
  }

  const std::string& text_;
  const Vocabulary& vocabulary_;
  std::vector<ExprError>* errors_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool failed_ = false;
  int depth_ = 0;
};

void AddUnique(std::vector<std::string>* out, const std::string& name) {
  if (std::find(out->begin(), out->end(), name) == out->end()) out->push_back(name);
}

}  // namespace

std::optional<DateExpr> ParseDateExpr(const std::string& text, const Vocabulary& vocabulary,
                                      std::vector<ExprError>* errors) {
  size_t before = errors->size();
  std::vector<ExprError> local;
  auto e = Parser(text, vocabulary, &local).WholeDate();
  errors->insert(errors->end(), local.begin(), local.end());
  return errors->size() == before ? e : std::nullopt;
}

std::optional<CondExpr> ParseCondition(const std::string& text, const Vocabulary& vocabulary,
                                       std::vector<ExprError>* errors) {
  size_t before = errors->size();
  std::vector<ExprError> local;
  auto e = Parser(text, vocabulary, &local).WholeCondition();
  errors->insert(errors->end(), local.begin(), local.end());
  return errors->size() == before ? e : std::nullopt;
}

std::string DateExpr::ToString() const {
  switch (kind) {
    case Kind::kFact: return fact;
    case Kind::kLiteral: return literal.ToString();
    case Kind::kOffset: {
      Duration d = offset;
      const char* sign = d.count < 0 ? " - " : " + ";
      if (d.count < 0) d.count = -d.count;
      return args[0].ToString() + sign + d.ToString();
    }
    case Kind::kMax:
    case Kind::kMin: {
      std::vector<std::string> parts;
      for (const auto& a : args) parts.push_back(a.ToString());
      return fmt::format("{}({})", kind == Kind::kMax ? "max" : "min", fmt::join(parts, ", "));
    }
    case Kind::kEndOfMonth: return "end_of_month(" + args[0].ToString() + ")";
    case Kind::kEndOfYear: return "end_of_year(" + args[0].ToString() + ")";
  }
  return {};
}

std::string CondExpr::ToString() const {
  static const char* kCmpText[] = {"<", "<=", ">", ">=", "==", "!="};
  switch (kind) {
    case Kind::kFlag:
    case Kind::kKnown: return fact;
    case Kind::kEnumEq: return fmt::format("{} {} {}", fact, negate ? "!=" : "==", word);
    case Kind::kCompare:
      return fmt::format("{} {} {}", dates[0].ToString(), kCmpText[static_cast<int>(cmp)], dates[1].ToString());
    case Kind::kNot: {
      bool simple = args[0].kind == Kind::kFlag || args[0].kind == Kind::kKnown;
      return simple ? "not " + args[0].ToString() : "not (" + args[0].ToString() + ")";
    }
    case Kind::kAnd:
    case Kind::kOr: {
      std::vector<std::string> parts;
      for (const auto& a : args) {
        bool wrap = (a.kind == Kind::kAnd || a.kind == Kind::kOr) && a.kind != kind;
        parts.push_back(wrap ? "(" + a.ToString() + ")" : a.ToString());
      }
      return fmt::format("{}", fmt::join(parts, kind == Kind::kAnd ? " and " : " or "));
    }
  }
  return {};
}

void CollectFacts(const DateExpr& expr, std::vector<std::string>* out) {
  if (expr.kind == DateExpr::Kind::kFact) AddUnique(out, expr.fact);
  for (const auto& a : expr.args) CollectFacts(a, out);
}

void CollectFacts(const CondExpr& expr, std::vector<std::string>* out) {
  if (!expr.fact.empty()) AddUnique(out, expr.fact);
  for (const auto& d : expr.dates) CollectFacts(d, out);
  for (const auto& a : expr.args) CollectFacts(a, out);
}

std::optional<Date> EvalDate(const DateExpr& expr, const Facts& facts, std::vector<std::string>* missing) {
  switch (expr.kind) {
    case DateExpr::Kind::kFact: {
      auto it = facts.find(expr.fact);
      if (it == facts.end() || !std::holds_alternative<Date>(it->second)) {
        AddUnique(missing, expr.fact);
        return std::nullopt;
      }
      return std::get<Date>(it->second);
    }
    case DateExpr::Kind::kLiteral: return expr.literal;
    case DateExpr::Kind::kOffset: {
      auto d = EvalDate(expr.args[0], facts, missing);
      if (!d) return std::nullopt;
      return Add(*d, expr.offset);
    }
    case DateExpr::Kind::kMax:
    case DateExpr::Kind::kMin: {
      std::optional<Date> result;
      bool complete = true;
      for (const auto& a : expr.args) {
        auto d = EvalDate(a, facts, missing);  // evaluate all, to report every missing fact
        if (!d) { complete = false; continue; }
        if (!result) result = d;
        else result = expr.kind == DateExpr::Kind::kMax ? std::max(*result, *d) : std::min(*result, *d);
      }
      return complete ? result : std::nullopt;
    }
    case DateExpr::Kind::kEndOfMonth:
    case DateExpr::Kind::kEndOfYear: {
      auto d = EvalDate(expr.args[0], facts, missing);
      if (!d) return std::nullopt;
      return expr.kind == DateExpr::Kind::kEndOfMonth ? d->EndOfMonth() : d->EndOfYear();
    }
  }
  return std::nullopt;
}

Truth EvalCondition(const CondExpr& expr, const Facts& facts, std::vector<std::string>* missing) {
  auto as_truth = [](bool b) { return b ? Truth::kTrue : Truth::kFalse; };
  switch (expr.kind) {
    case CondExpr::Kind::kFlag: {
      // An absent flag is unknown, never false (DESIGN.md, "Unknown is not false").
      auto it = facts.find(expr.fact);
      if (it == facts.end() || !std::holds_alternative<bool>(it->second)) {
        AddUnique(missing, expr.fact);
        return Truth::kUnknown;
      }
      return as_truth(std::get<bool>(it->second));
    }
    case CondExpr::Kind::kKnown: {
      auto it = facts.find(expr.fact);
      return as_truth(it != facts.end() && std::holds_alternative<Date>(it->second));
    }
    case CondExpr::Kind::kEnumEq: {
      auto it = facts.find(expr.fact);
      if (it == facts.end() || !std::holds_alternative<std::string>(it->second)) {
        AddUnique(missing, expr.fact);
        return Truth::kUnknown;
      }
      return as_truth((std::get<std::string>(it->second) == expr.word) != expr.negate);
    }
    case CondExpr::Kind::kCompare: {
      std::vector<std::string> local;
      auto a = EvalDate(expr.dates[0], facts, &local);
      auto b = EvalDate(expr.dates[1], facts, &local);
      if (!a || !b) {
        for (const auto& m : local) AddUnique(missing, m);
        return Truth::kUnknown;
      }
      switch (expr.cmp) {
        case CondExpr::Cmp::kLt: return as_truth(*a < *b);
        case CondExpr::Cmp::kLe: return as_truth(*a <= *b);
        case CondExpr::Cmp::kGt: return as_truth(*a > *b);
        case CondExpr::Cmp::kGe: return as_truth(*a >= *b);
        case CondExpr::Cmp::kEq: return as_truth(*a == *b);
        case CondExpr::Cmp::kNe: return as_truth(*a != *b);
      }
      return Truth::kUnknown;
    }
    case CondExpr::Kind::kNot: {
      Truth t = EvalCondition(expr.args[0], facts, missing);
      return t == Truth::kUnknown ? t : as_truth(t == Truth::kFalse);
    }
    case CondExpr::Kind::kAnd:
    case CondExpr::Kind::kOr: {
      // Kleene logic: a decisive operand (false for and, true for or) wins over unknown,
      // and then the unknown operands' missing facts are not reported.
      Truth decisive = expr.kind == CondExpr::Kind::kAnd ? Truth::kFalse : Truth::kTrue;
      std::vector<std::string> local;
      bool unknown = false;
      for (const auto& a : expr.args) {
        Truth t = EvalCondition(a, facts, &local);
        if (t == decisive) return decisive;
        if (t == Truth::kUnknown) unknown = true;
      }
      if (!unknown) return decisive == Truth::kFalse ? Truth::kTrue : Truth::kFalse;
      for (const auto& m : local) AddUnique(missing, m);
      return Truth::kUnknown;
    }
  }
  return Truth::kUnknown;
}

}  // namespace retention::internal
