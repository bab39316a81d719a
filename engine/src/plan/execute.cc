#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "crypto/digest.h"
#include "retention/plan.h"
#include "plan/pushdown.h"
#include "plan/record_facts.h"
#include "retention/predicate.h"

namespace retention {

int64_t BindingPlan::DueTotal() const {
  int64_t n = 0;
  for (const auto& [action, summary] : due) n += summary.count;
  return n;
}

namespace {

// The value of one fact as a store gives it; nullopt when it cannot be read.
std::optional<FactValue> ReadStoredFact(const Vocabulary& vocabulary, const FactDefinition& def,
                                        const std::string& name, std::string text) {
  if (def.type == FactType::kDate) {
    auto date = ParseDateFact(text);
    return date ? std::optional<FactValue>(*date) : std::nullopt;
  }
  if (def.type == FactType::kFlag) {
    if (text == "1" || text == "t" || text == "TRUE" || text == "True") text = "true";
    if (text == "0" || text == "f" || text == "FALSE" || text == "False") text = "false";
  }
  auto value = ParseFactValue(vocabulary, name, text);
  return value.ok() ? std::optional<FactValue>(*value) : std::nullopt;
}

}  // namespace

bool BindingPlan::Incomplete() const {
  int64_t done = 0;
  for (const auto& [action, n] : applied) done += n;
  return refused_at_apply > 0 || invalid_facts > 0 || (skipped_at_apply > 0 && done == 0);
}

Result<Facts> ParseRecordFacts(const Vocabulary& vocabulary, const std::vector<std::string>& names,
                               const RawRecord& record) {
  static constexpr const char* kExpected[] = {"a date (YYYY-MM-DD or an RFC 3339 timestamp)", "true or false",
                                              "one of its listed values"};
  Facts facts;
  for (size_t i = 0; i < names.size() && i < record.facts.size(); ++i) {
    if (!record.facts[i]) continue;  // NULL: unknown
    const FactDefinition* def = vocabulary.Find(names[i]);
    if (!def) return Status::InvalidArgument(fmt::format("unknown fact '{}'", names[i]));
    auto value = ReadStoredFact(vocabulary, *def, names[i], *record.facts[i]);
    // The record is kept and reported; the value itself may be personal data: never shown.
    if (!value)
      return Status::InvalidArgument(fmt::format("invalid_fact: fact '{}' (value {} of {} read) is not {}", names[i],
                                                 i + 1, names.size(), kExpected[static_cast<int>(def->type)]));
    facts[names[i]] = *value;
  }
  return facts;
}

namespace {

// Whether this record's timeline has the action (a conditional phase may be absent).
bool InTimeline(const Evaluation& e, Phase p) {
  return std::any_of(e.timeline.begin(), e.timeline.end(), [p](const TimelineEntry& t) { return t.action == p; });
}

// What to do now to a record whose latest due action is `due`, given where it is.
std::optional<Phase> Decide(const Evaluation& e, Phase due, bool archived, bool pseudonymised) {
  switch (due) {
    case Phase::kDelete: return Phase::kDelete;
    case Phase::kPseudonymise:
      if (pseudonymised) return std::nullopt;
      if (!archived && InTimeline(e, Phase::kArchive)) return Phase::kArchive;  // move first
      return Phase::kPseudonymise;
    case Phase::kArchive: return archived ? std::nullopt : std::optional(Phase::kArchive);
    case Phase::kActive: return std::nullopt;
  }
  return std::nullopt;
}

// The first action a record of this view can still be waiting for.
std::optional<Phase> FirstPendingAction(const Rule& rule, bool archived_view) {
  const auto& actions = rule.actions;
  auto it = actions.begin();
  if (archived_view) {
    it = std::find(actions.begin(), actions.end(), Phase::kArchive);
    if (it != actions.end()) ++it;
  }
  if (it == actions.end()) return std::nullopt;
  return *it;
}

struct Pending {
  std::vector<std::string> keys;
  std::vector<std::string> subjects;
};

// Keys in their store's order: numbers by value (a rowid), others as text. Records are
// found in date order, scattered over the table; batches of neighbouring keys touch a
// few pages each instead of one page per record.
bool KeyBefore(const std::string& a, const std::string& b) {
  auto number = [](const std::string& s) {
    return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  bool na = number(a), nb = number(b);
  if (na != nb) return na;
  if (na && a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

void SortByKey(Pending* p) {
  std::vector<size_t> order(p->keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [p](size_t x, size_t y) { return KeyBefore(p->keys[x], p->keys[y]); });
  Pending sorted;
  sorted.keys.reserve(order.size());
  sorted.subjects.reserve(order.size());
  for (size_t i : order) {
    sorted.keys.push_back(std::move(p->keys[i]));
    sorted.subjects.push_back(std::move(p->subjects[i]));
  }
  *p = std::move(sorted);
}

class BindingExecution {
 public:
  BindingExecution(const Deployment& d, const PolicySet& p, const Stores& s, const ExecuteOptions& o,
                   const Binding& b, BindingPlan* out)
      : deployment_(d), policies_(p), stores_(s), options_(o), binding_(b), rule_(*b.rule), out_(*out) {}

  Status Run() {
    Connector* connector = stores_.Find(binding_.store);
    if (!connector) return Status::InvalidArgument(fmt::format("binding {}: store '{}' is not open", binding_.name, binding_.store));
    auto total = connector->Count(binding_);
    if (!total.ok()) return total.status();
    out_.total_rows = *total;
    for (const auto& f : rule_.facts)
      if (binding_.facts.count(f)) facts_.push_back(f);

    ScanRequest scan;
    scan.binding = &binding_;
    scan.facts = facts_;
    scan.batch_size = static_cast<size_t>(binding_.batch_size);
    if (!options_.full_scan) {
      auto first = FirstPendingAction(rule_, binding_.archived_view);
      if (!first) return Status::Ok();  // nothing can ever be due in this view
      auto predicate = DuePredicate(rule_, *first, options_.as_of, deployment_.deployment_facts);
      if (!predicate) return Status::Ok();
      out_.predicate = predicate->ToString();
      out_.exact_pushdown = IsExactPushdown(rule_, *first, options_.as_of, deployment_.deployment_facts);
      scan.where = std::move(predicate);
      auto counted = CountInStore(connector, scan);
      if (!counted.ok()) return counted.status();
      if (*counted) return Status::Ok();
    } else {
      out_.missing_counted = true;
    }
    Status scanned = connector->Scan(scan, [&](std::vector<RawRecord>& batch) {
      for (const auto& record : batch) Classify(record);
      if (options_.progress) options_.progress({binding_.name, out_.scanned, out_.total_rows});
      return true;
    });
    if (!scanned.ok()) return scanned;
    if (!options_.apply || !out_.guard.empty()) return Status::Ok();
    return ApplyAll(connector);
  }

 private:
  // Evaluates one record as it is now; the action to take, if any.
  std::optional<Phase> ActionFor(const RawRecord& record, Evaluation* e, std::string* error) {
    auto facts = ParseRecordFacts(policies_.vocabulary, facts_, record);
    if (!facts.ok()) {
      *error = facts.status().message();
      return std::nullopt;
    }
    for (const auto& [name, value] : deployment_.deployment_facts) (*facts)[name] = value;
    *e = Evaluate(rule_, *facts, options_.as_of, binding_.assume, options_.derivation);
    if (e->status != EvalStatus::kDue || !e->due) return std::nullopt;
    return Decide(*e, *e->due, binding_.archived_view, record.pseudonymised);
  }

  // `rows` records with these facts: one read from the store (its key known), or a
  // group counted by the store (Connector::Group, no key: nothing to sample).
  void Sample(ActionSummary* s, const std::string& key, int64_t rows, bool keyed) {
    s->count += rows;
    if (keyed && s->sample_keys.size() < options_.sample_size) s->sample_keys.push_back(key);
  }

  void Classify(const RawRecord& record, int64_t rows = 1, bool keyed = true) {
    out_.scanned += rows;
    Evaluation e;
    std::string error;
    auto action = ActionFor(record, &e, &error);
    if (options_.on_record && error.empty()) options_.on_record(binding_, record, e, action);
    if (!error.empty()) {
      out_.invalid_facts += rows;
      if (out_.errors.size() < 20)
        out_.errors.push_back(keyed ? fmt::format("record {}: {}", record.key, error) : fmt::format("{} record(s): {}", rows, error));
      return;
    }
    switch (e.status) {
      case EvalStatus::kHold: Sample(&out_.held, record.key, rows, keyed); return;
      case EvalStatus::kMissingFact:
        for (const auto& m : e.missing) out_.missing[m] += rows;
        return;
      case EvalStatus::kNoCase: out_.no_case += rows; return;
      case EvalStatus::kScheduled: out_.scheduled += rows; return;
      default: break;
    }
    if (!action) {
      out_.already_done += rows;
      return;
    }
    if (options_.holds) {
      if (auto reason = options_.holds->Held(binding_, record.key, record.subject)) {
        Sample(&out_.operator_held, record.key, rows, keyed);
        return;
      }
    }
    Sample(&out_.due[*action], record.key, rows, keyed);
    for (const auto& a : e.assumed) out_.assumed[a] += rows;
    if (!options_.apply) return;
    if (options_.approved && !options_.approved(binding_, *action, record.key)) {
      ++out_.not_approved;
      return;
    }
    auto limit = options_.limits.find(binding_.name);
    if (limit != options_.limits.end()) {
      auto l = limit->second.find(*action);
      int64_t max = l == limit->second.end() ? 0 : l->second;
      if (static_cast<int64_t>(pending_[*action].keys.size()) >= max) return;
    }
    pending_[*action].keys.push_back(record.key);
    pending_[*action].subjects.push_back(record.subject);
  }

  // A plan that needs counts, not keys (ExecuteOptions::count_in_store), when the store
  // can count by facts and no operator hold depends on the record: the store groups
  //   1. the rows the predicate selects (a superset of the due rows), and
  //   2. the other rows with a fact of the rule unknown (the only ones that can miss one),
  // and each combination of facts is evaluated once, weighted by its rows. The rows left
  // out are neither due nor missing a fact: the due, operator-held and missing counts
  // are those of reading every row (tests/differential_test.cc). Then the first due
  // rows are read for the sample keys. true: done; false: read the rows instead.
  Result<bool> CountInStore(Connector* connector, const ScanRequest& scan) {
    if (options_.apply || options_.on_record || !options_.count_in_store) return false;
    // The predicate does not apply `assume:` (a NULL or unmapped fact read as its assumed
    // value): such a binding reads the selected rows, as a run does, so that a fast plan
    // and a run count the same records.
    if (!binding_.assume.empty()) return false;
    if (options_.holds && options_.holds->ByRecord(binding_)) return false;
    auto group = [this](const RecordGroup& g) {
      RawRecord r;
      r.facts = g.facts;
      r.pseudonymised = g.pseudonymised;
      Classify(r, g.rows, false);
    };
    GroupRequest selected{&binding_, facts_, scan.where, std::nullopt};
    auto supported = connector->Group(selected, group);
    if (!supported.ok()) return supported.status();
    if (!*supported) return false;
    Predicate unknown = UnknownFactPredicate(rule_, facts_, deployment_.deployment_facts);
    if (options_.count_missing && unknown.kind != Predicate::Kind::kFalse) {
      GroupRequest missing{&binding_, facts_, std::move(unknown), scan.where};
      auto counted = connector->Group(missing, group);
      if (!counted.ok()) return counted.status();
    }
    out_.counted_in_store = true;
    out_.missing_counted = options_.count_missing;
    if (options_.progress) options_.progress({binding_.name, out_.scanned, out_.total_rows});
    if (Status s = SampleKeys(connector, scan); !s.ok()) return s;
    return true;
  }

  // The sample keys of a plan counted in the store: the first due (or operator-held)
  // rows the predicate selects, in the order the rows would have been read.
  Status SampleKeys(Connector* connector, const ScanRequest& scan) {
    auto wanting = [this](const ActionSummary& s) {
      return static_cast<int64_t>(s.sample_keys.size()) < std::min<int64_t>(s.count, static_cast<int64_t>(options_.sample_size));
    };
    auto more = [&] {
      if (wanting(out_.operator_held)) return true;
      return std::any_of(out_.due.begin(), out_.due.end(), [&](const auto& d) { return wanting(d.second); });
    };
    if (!more()) return Status::Ok();
    ScanRequest first = scan;
    first.batch_size = 4 * options_.sample_size + 16;  // small batches: it stops as soon as it has them
    return connector->Scan(first, [&](std::vector<RawRecord>& batch) {
      for (const auto& r : batch) {
        Evaluation e;
        std::string error;
        auto action = ActionFor(r, &e, &error);
        if (!action) continue;
        bool held = options_.holds && options_.holds->Held(binding_, r.key, r.subject);
        auto due = out_.due.find(*action);
        ActionSummary* s = held ? &out_.operator_held : due == out_.due.end() ? nullptr : &due->second;
        if (s && wanting(*s)) s->sample_keys.push_back(r.key);
      }
      return more();
    });
  }

  // Records an applied batch (on_batch: the audit entry, committed), then lets the store
  // make its staged changes final.
  Status Record(Connector* connector, const AppliedBatch& applied, const std::string& staged) {
    if (options_.on_batch)
      if (Status s = options_.on_batch(applied); !s.ok()) return s;
    if (staged.empty()) return Status::Ok();
    return connector->Confirm(staged);  // recorded: the store may make the batch final
  }

  // Whether a record re-read at apply time is still due for `wanted` and not held.
  bool StillDue(Phase wanted, const RawRecord& r) {
    Evaluation e;
    std::string error;
    auto now = ActionFor(r, &e, &error);
    if (!now || *now != wanted) return false;
    return !(options_.holds && options_.holds->Held(binding_, r.key, r.subject));
  }

  // Drops whole every part of the table (PostgreSQL partitions) whose rows are all in
  // `pending` (due for deletion, not held, approved, within the limits) and still due
  // when re-read under lock; one audited batch per part. The keys dropped leave
  // `pending`; the rest is deleted row by row as usual.
  Status DropDueParts(Connector* connector, Pending* pending, int64_t* done, int64_t total) {
    if (pending->keys.empty()) return Status::Ok();
    auto parts = connector->Parts(binding_);
    if (!parts.ok()) return parts.status();
    if (parts->empty()) return Status::Ok();
    std::unordered_map<std::string_view, size_t> position;  // key → index in pending
    position.reserve(pending->keys.size());
    for (size_t i = 0; i < pending->keys.size(); ++i) position.emplace(pending->keys[i], i);
    std::vector<bool> dropped(pending->keys.size(), false);
    bool any = false;
    for (const auto& part : *parts) {
      DropPartRequest req;
      req.binding = &binding_;
      req.part = part;
      req.facts = facts_;
      req.run_id = options_.run_id;
      req.key_digest = options_.key_digest;
      req.chunk = static_cast<size_t>(binding_.batch_size);
      // The key's index in `pending` while it is still to be deleted.
      auto pending_index = [&](const std::string& key) -> std::optional<size_t> {
        auto it = position.find(key);
        if (it == position.end() || dropped[it->second]) return std::nullopt;
        return it->second;
      };
      std::vector<size_t> rows;  // the pending index of each row the locked re-read accepted, in its order
      req.candidate = [&](const RawRecord& r) { return pending_index(r.key).has_value(); };
      req.still_due = [&](const RawRecord& r) {
        auto i = pending_index(r.key);
        if (!i || !StillDue(Phase::kDelete, r)) return false;
        rows.push_back(*i);
        return true;
      };
      if (options_.before_batch) {
        Status s = options_.before_batch();
        if (!s.ok()) return s;
      }
      auto result = connector->DropPart(req);
      if (!result.ok() || !result->dropped) {
        if (options_.abort_batch) options_.abort_batch();
        if (!result.ok()) return result.status();
        continue;
      }
      ++out_.parts_dropped;
      any = true;
      if (rows.size() != result->keys.size())  // the journal holds the part: the next run records it
        return Status::Internal(fmt::format("binding {}: the store dropped {} rows but {} were re-checked", binding_.name,
                                            result->keys.size(), rows.size()));
      // One audited batch per journal batch of the part, each naming the part: the
      // first in the transaction opened above, the next ones each in their own.
      for (size_t c = 0, start = 0; start < result->keys.size(); ++c, start += req.chunk) {
        if (c > 0 && options_.before_batch) {
          Status s = options_.before_batch();  // stopped here: the journal keeps the rest for the next run
          if (!s.ok()) return s;
        }
        size_t end = std::min(result->keys.size(), start + req.chunk);
        AppliedBatch applied{&binding_, Phase::kDelete, {}, {}, {}, part.name};
        for (size_t k = start; k < end; ++k) {
          size_t i = rows[k];  // DropPart returns its keys in the order it re-checked them
          dropped[i] = true;
          applied.keys.push_back(result->keys[k]);
          applied.subjects.push_back(pending->subjects[i]);
        }
        out_.applied[Phase::kDelete] += static_cast<int64_t>(applied.keys.size());
        *done += static_cast<int64_t>(applied.keys.size());
        if (Status s = Record(connector, applied, c < result->staged.size() ? result->staged[c] : ""); !s.ok())
          return s;
      }
      if (options_.progress) options_.progress({binding_.name + " (dropping parts)", *done, total});
    }
    if (!any) return Status::Ok();
    Pending rest;
    for (size_t i = 0; i < pending->keys.size(); ++i)
      if (!dropped[i]) {
        rest.keys.push_back(std::move(pending->keys[i]));
        rest.subjects.push_back(std::move(pending->subjects[i]));
      }
    *pending = std::move(rest);
    return Status::Ok();
  }

  Status ApplyAll(Connector* connector) {
    Connector* archive = binding_.archive ? stores_.Find(binding_.archive->store) : nullptr;
    std::string key;
    if (auto it = options_.pseudonymise_keys.find(binding_.name); it != options_.pseudonymise_keys.end()) key = it->second;
    int64_t done = 0, total = 0;
    for (const auto& [action, p] : pending_) total += static_cast<int64_t>(p.keys.size());
    for (auto& [action, pending] : pending_) {
      if (action == Phase::kDelete)
        if (Status s = DropDueParts(connector, &pending, &done, total); !s.ok()) return s;
      SortByKey(&pending);
      if (action == Phase::kPseudonymise && key.empty())
        return Status::FailedPrecondition(fmt::format("binding {}: no pseudonymisation key", binding_.name));
      size_t batch = static_cast<size_t>(binding_.batch_size);
      for (size_t start = 0; start < pending.keys.size(); start += batch) {
        size_t end = std::min(pending.keys.size(), start + batch);
        ApplyRequest req;
        req.binding = &binding_;
        req.action = action;
        req.keys.assign(pending.keys.begin() + static_cast<long>(start), pending.keys.begin() + static_cast<long>(end));
        req.run_id = options_.run_id;
        req.as_of = options_.as_of;
        req.facts = facts_;
        req.archive_target = archive;
        req.key_digest = options_.key_digest;
        Phase wanted = action;
        req.still_due = [this, wanted](const RawRecord& r) { return StillDue(wanted, r); };
        if (!key.empty()) req.tokenise = [key](const std::string& v) { return internal::HmacSha256Hex(key, v); };
        if (options_.before_batch) {
          Status s = options_.before_batch();
          if (!s.ok()) return s;
        }
        auto result = connector->Apply(req);
        if (!result.ok()) {
          if (options_.abort_batch) options_.abort_batch();
          return result.status();
        }
        out_.applied[action] += static_cast<int64_t>(result->applied.size());
        out_.skipped_at_apply += static_cast<int64_t>(result->skipped.size() + result->refused.size());
        out_.refused_at_apply += static_cast<int64_t>(result->refused.size());
        for (const auto& r : result->refused)  // the reason, never the key
          if (out_.errors.size() < 20) out_.errors.push_back(fmt::format("{} refused: {}", PhaseName(action), r.reason));
        AppliedBatch applied{&binding_, action, result->applied, {}, {}, {}};
        std::unordered_map<std::string_view, size_t> position;  // key → index in pending
        position.reserve(end - start);
        for (size_t i = start; i < end; ++i) position.emplace(pending.keys[i], i);
        for (const auto& k : result->applied) {
          auto it = position.find(k);
          applied.subjects.push_back(it == position.end() ? "" : pending.subjects[it->second]);
        }
        if (Status s = Record(connector, applied, result->staged); !s.ok()) return s;
        if (!result->failed.empty())
          return Status::IoError(fmt::format("binding {}: {} record(s) could not be changed ({}); the {} changed are recorded",
                                             binding_.name, result->failed.size(), result->failed.front().reason,
                                             result->applied.size()));
        done += static_cast<int64_t>(end - start);
        if (options_.progress) options_.progress({binding_.name + " (applying)", done, total});
      }
    }
    return Status::Ok();
  }

  const Deployment& deployment_;
  const PolicySet& policies_;
  const Stores& stores_;
  const ExecuteOptions& options_;
  const Binding& binding_;
  const Rule& rule_;
  BindingPlan& out_;
  std::vector<std::string> facts_;
  std::map<Phase, Pending> pending_;
};

}  // namespace

Result<Plan> Execute(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                     const ExecuteOptions& options) {
  Plan plan;
  plan.as_of = options.as_of;
  plan.policy_hash = policies.hash;
  plan.config_hash = deployment.hash;
  plan.full_scan = options.full_scan;
  for (const auto& b : deployment.bindings) {
    if (!options.only_bindings.empty() &&
        std::find(options.only_bindings.begin(), options.only_bindings.end(), b.name) == options.only_bindings.end() &&
        std::find(options.only_bindings.begin(), options.only_bindings.end(),
                  b.name.substr(0, b.name.find('@'))) == options.only_bindings.end())
      continue;
    BindingPlan bp;
    bp.binding = b.name;
    bp.rule_id = b.rule->id;
    bp.store = b.store;
    bp.table = b.table;
    bp.archived_view = b.archived_view;
    for (const auto& [fact, value] : b.assume) bp.assumptions.push_back(fact + "=" + FactValueToString(value));
    // The manual rules of every fiche this deployment binds: a person decides them.
    if (const Policy* policy = policies.FindPolicyOf(*b.rule))
      for (const auto& r : policy->rules)
        if (r.manual && std::find(plan.manual_rules.begin(), plan.manual_rules.end(), &r) == plan.manual_rules.end())
          plan.manual_rules.push_back(&r);
    if (b.rule->manual) {
      bp.manual = true;
      bp.manual_reason = b.rule->manual_reason;
      plan.bindings.push_back(std::move(bp));
      continue;
    }
    if (auto it = options.blocked.find(b.name); it != options.blocked.end()) bp.guard = it->second;
    Status s = BindingExecution(deployment, policies, stores, options, b, &bp).Run();
    if (!s.ok()) return Status(s);
    plan.bindings.push_back(std::move(bp));
  }
  return plan;
}

}  // namespace retention
