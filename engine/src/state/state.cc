#include "retention/state.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crypto/digest.h"
#include "retention/secrets.h"
#include "state/sqlite_state.h"
#include "state/state_db.h"
#include "yaml/utf8.h"

namespace retention {

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> ParseInt(const StateValue& v) {
  if (!v || v->empty()) return std::nullopt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
  return n;
}

namespace {

constexpr const char* kHoldColumns =
    "id, kind, value, binding, reason, author, created_at, released_at, release_reason, release_author";

OperatorHold ToHold(const StateRow& r) {
  OperatorHold h;
  h.id = ParseInt(r[0]).value_or(0);
  std::string kind = r[1].value_or("");
  for (auto k : {OperatorHold::Kind::kSubject, OperatorHold::Kind::kKey, OperatorHold::Kind::kRule,
                 OperatorHold::Kind::kStore})
    if (kind == HoldKindName(k)) h.kind = k;
  h.value = r[2].value_or("");
  h.binding = r[3].value_or("");
  h.reason = r[4].value_or("");
  h.author = r[5].value_or("");
  h.created_at = r[6].value_or("");
  h.released_at = r[7].value_or("");
  h.release_reason = r[8].value_or("");
  h.release_author = r[9].value_or("");
  return h;
}

RunRecord ToRun(const StateRow& r) {
  RunRecord run;
  run.id = ParseInt(r[0]).value_or(0);
  run.started_at = r[1].value_or("");
  run.ended_at = r[2].value_or("");
  run.as_of = Date::Parse(r[3].value_or("")).value_or(Date());
  run.policy_hash = r[4].value_or("");
  run.config_hash = r[5].value_or("");
  run.status = r[6].value_or("");
  run.counts = r[7].value_or("");
  return run;
}
constexpr const char* kRunColumns = "id, started_at, ended_at, as_of, policy_hash, config_hash, status, counts";

}  // namespace

const char* HoldKindName(OperatorHold::Kind kind) {
  switch (kind) {
    case OperatorHold::Kind::kSubject: return "subject";
    case OperatorHold::Kind::kKey: return "key";
    case OperatorHold::Kind::kRule: return "rule";
    case OperatorHold::Kind::kStore: return "store";
  }
  return "?";
}

std::optional<std::string> ActiveHolds::Held(const Binding& b, const std::string& key, const std::string& subject) const {
  for (const auto& h : holds) {
    switch (h.kind) {
      case OperatorHold::Kind::kRule:
        if (b.rule && (h.value == b.rule->id ||
                       std::find(b.rule->implements.begin(), b.rule->implements.end(), h.value) != b.rule->implements.end()))
          return h.reason;
        break;
      case OperatorHold::Kind::kStore:
        if (h.value == b.store) return h.reason;
        break;
      case OperatorHold::Kind::kKey:
        if (BindingRecordsOf(b.name) == BindingRecordsOf(h.binding) && db->Digest(key) == h.value) return h.reason;
        break;
      case OperatorHold::Kind::kSubject:
        if (!subject.empty() && db->Digest(subject) == h.value) return h.reason;
        break;
    }
  }
  return std::nullopt;
}

bool ActiveHolds::ByRecord(const Binding& b) const {
  return std::any_of(holds.begin(), holds.end(), [&](const OperatorHold& h) {
    return (h.kind == OperatorHold::Kind::kKey && BindingRecordsOf(b.name) == BindingRecordsOf(h.binding)) ||
           h.kind == OperatorHold::Kind::kSubject;  // any: a store may name people without a subject column
  });
}

Status StateDb::Impl::Query(const std::string& text, const std::vector<StateValue>& params,
                            const std::function<void(const StateRow&)>& row) const {
  return sql->Query(text, params, row);
}

Status StateDb::Impl::Exec(const std::string& text, const std::vector<StateValue>& params) const {
  return sql->Exec(text, params);
}

Status StateDb::Impl::Transaction(const std::function<Status()>& body, StateBackend::Txn kind) const {
  if (Status s = sql->Begin(kind); !s.ok()) return s;
  Status s;
  try {
    s = body();
  } catch (const std::exception& e) {  // never leave the handle inside a transaction
    s = Status::Internal(std::string("state database: ") + e.what());
  }
  if (s.ok()) s = sql->Commit();
  if (!s.ok()) sql->Rollback();
  return s;
}

std::string StateDb::Impl::Mac(const std::string& text) const { return internal::HmacSha256Hex(key, text); }

StateDb::StateDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { impl_->active.db = this; }
StateDb::~StateDb() = default;
StateDb::StateDb(StateDb&& o) noexcept : impl_(std::move(o.impl_)) { if (impl_) impl_->active.db = this; }
StateDb& StateDb::operator=(StateDb&& o) noexcept {
  impl_ = std::move(o.impl_);
  if (impl_) impl_->active.db = this;
  return *this;
}

Result<StateDb> StateDb::Open(const std::string& path, std::string audit_key, AnchorSettings anchors) {
  if (audit_key.empty()) return Status::InvalidArgument("the state database needs the audit key");
  auto sql = OpenSqliteState(path);
  if (!sql.ok()) return sql.status();
  return Open(std::move(*sql), std::move(audit_key), std::move(anchors));
}

Result<StateDb> StateDb::Open(std::unique_ptr<StateBackend> sql, std::string audit_key, AnchorSettings anchors) {
  if (audit_key.empty()) return Status::InvalidArgument("the state database needs the audit key");
  if (Status s = sql->Prepare(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->sql = std::move(sql);
  impl->key = std::move(audit_key);
  impl->anchors = std::move(anchors);
  StateDb db(std::move(impl));
  if (Status r = db.ReloadHolds(); !r.ok()) return r;
  return db;
}

Status StateDb::LockForRun(bool shared) { return impl_->sql->LockRun(shared); }

void StateDb::Unlock() { impl_->sql->UnlockRun(); }

bool StateDb::Shared() const { return impl_->sql->Shared(); }

namespace {
Status NeedsShared(const StateDb& db) {
  return db.Shared() ? Status::Ok()
                     : Status::FailedPrecondition("leases need a shared (PostgreSQL) state database");
}
}  // namespace

Result<std::optional<std::string>> StateDb::ClaimBinding(const std::vector<std::string>& bindings, Date as_of,
                                                         const std::string& owner, int seconds) {
  if (Status s = NeedsShared(*this); !s.ok()) return s;
  std::string names;
  for (const auto& b : bindings) names += (names.empty() ? "" : "\n") + b;
  std::optional<std::string> claimed;
  // Only the missing rows are inserted: a unique check on a row that an open batch has
  // updated (BeginBatch's fence) would wait for that batch to commit.
  Status s = impl_->Exec("INSERT INTO leases (binding) SELECT b FROM unnest(string_to_array(?, E'\\n')) b "
                         "WHERE NOT EXISTS (SELECT 1 FROM leases WHERE binding = b) ON CONFLICT DO NOTHING",
                         {names});
  if (!s.ok()) return s;
  s = impl_->Query(
      "WITH free AS (SELECT binding FROM leases WHERE binding = ANY (string_to_array(?, E'\\n')) "
      "AND done_as_of IS DISTINCT FROM ? AND (owner IS NULL OR expires_at < now()) "
      "ORDER BY binding LIMIT 1 FOR UPDATE SKIP LOCKED) "
      "UPDATE leases l SET owner = ?, expires_at = now() + make_interval(secs => ?::int) FROM free "
      "WHERE l.binding = free.binding RETURNING l.binding",
      {names, as_of.ToString(), owner, std::to_string(seconds)}, [&](const StateRow& r) { claimed = r[0]; });
  if (!s.ok()) return s;
  return claimed;
}

Result<bool> StateDb::RenewLease(const std::string& binding, const std::string& owner, int seconds) {
  if (Status s = NeedsShared(*this); !s.ok()) return s;
  bool kept = false;
  Status s = impl_->Query(
      "UPDATE leases SET expires_at = now() + make_interval(secs => ?::int) "
      "WHERE binding = ? AND owner = ? RETURNING binding",
      {std::to_string(seconds), binding, owner}, [&](const StateRow&) { kept = true; });
  if (!s.ok()) return s;
  return kept;
}

Status StateDb::ReleaseLease(const std::string& binding, const std::string& owner, Date as_of, bool done,
                             int64_t run_id) {
  if (Status s = NeedsShared(*this); !s.ok()) return s;
  if (!done) return impl_->Exec("UPDATE leases SET owner = NULL, expires_at = NULL WHERE binding = ? AND owner = ?",
                                {binding, owner});
  return impl_->Exec("UPDATE leases SET owner = NULL, expires_at = NULL, done_as_of = ?, run_id = ? "
                     "WHERE binding = ? AND owner = ?",
                     {as_of.ToString(), std::to_string(run_id), binding, owner});
}

Result<std::optional<RunRecord>> StateDb::LastRun(bool applied_only) const {
  std::optional<RunRecord> out;
  std::string sql = fmt::format("SELECT {} FROM runs {} ORDER BY as_of DESC, id DESC LIMIT 1", kRunColumns,
                                applied_only ? "WHERE status IN ('done', 'guarded', 'failed', 'running')" : "");
  Status s = impl_->Query(sql, {}, [&](const StateRow& r) { out = ToRun(r); });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<RunRecord>> StateDb::Runs() const {
  std::vector<RunRecord> out;
  Status s = impl_->Query(fmt::format("SELECT {} FROM runs ORDER BY id", kRunColumns), {},
                          [&](const StateRow& r) { out.push_back(ToRun(r)); });
  if (!s.ok()) return s;
  return out;
}

namespace {
// The previous run's hashes, as the chain records them.
Result<std::optional<AuditEntry>> LastRunStart(const StateDb::Impl& impl) {
  auto starts = impl.Entries("WHERE kind = ? ORDER BY id DESC LIMIT 1", {audit_kind::kRunStart});
  if (!starts.ok()) return starts.status();
  if (starts->empty()) return std::optional<AuditEntry>();
  return std::optional<AuditEntry>(starts->front());
}
}  // namespace

Result<int64_t> StateDb::BeginRun(Date as_of, const std::string& policy_hash, const std::string& config_hash,
                                  const std::string& status, const std::string& policy_version) {
  int64_t id = 0;
  Status s = impl_->Transaction([&]() -> Status {
    auto previous = LastRunStart(*impl_);
    if (!previous.ok()) return previous.status();
    if (Status i = impl_->Exec("INSERT INTO runs (started_at, as_of, policy_hash, config_hash, status) "
                               "VALUES (?, ?, ?, ?, ?)",
                               {NowUtc(), as_of.ToString(), policy_hash, config_hash, status});
        !i.ok())
      return i;
    auto inserted = impl_->sql->LastInsertId();
    if (!inserted.ok()) return inserted.status();
    id = *inserted;
    AuditEntry e;
    e.run_id = id;
    e.kind = audit_kind::kRunStart;
    e.policy_hash = policy_hash;
    nlohmann::json detail{{"as_of", as_of.ToString()}, {"configuration", config_hash}};
    if (!policy_version.empty()) detail["policy_version"] = policy_version;
    if (impl_->verified)
      detail["verified"] = {{"through", impl_->verified->through},
                            {"head", impl_->verified->head},
                            {"full_at", impl_->verified->full_at},
                            {"others", impl_->verified->others}};
    e.detail = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (Status a = impl_->AppendEntry(e); !a.ok()) return a;
    if (!*previous) return Status::Ok();
    auto before = nlohmann::json::parse((*previous)->detail, nullptr, false);
    std::string old_config = before.is_object() ? before.value("configuration", "") : "";
    for (auto [kind, from, to] : {std::tuple{audit_kind::kPolicyChange, (*previous)->policy_hash, policy_hash},
                                  std::tuple{audit_kind::kConfigChange, old_config, config_hash}}) {
      if (from == to) continue;
      AuditEntry change;
      change.run_id = id;
      change.kind = kind;
      change.policy_hash = policy_hash;
      change.detail = nlohmann::json{{"previous_run", (*previous)->run_id}, {"from", from}, {"to", to}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (Status a = impl_->AppendEntry(change); !a.ok()) return a;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return id;
}

Status StateDb::EndRun(int64_t id, const std::string& status, const std::string& counts_json) {
  Status s = impl_->Transaction([&]() -> Status {
    if (Status u = impl_->Exec("UPDATE runs SET ended_at = ?, status = ?, counts = ? WHERE id = ?",
                               {NowUtc(), status, counts_json, std::to_string(id)});
        !u.ok())
      return u;
    AuditEntry e;
    e.run_id = id;
    e.kind = audit_kind::kRunEnd;
    auto counts = nlohmann::json::parse(counts_json, nullptr, false);
    e.detail = nlohmann::json{{"status", status}, {"counts", counts.is_discarded() ? nlohmann::json() : counts}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return impl_->AppendEntry(e);
  });
  return s.ok() ? impl_->WriteAnchor(id) : s;
}

Status StateDb::Record(int64_t run_id, const std::string& kind, const std::string& binding, const std::string& detail) {
  AuditEntry e;
  e.run_id = run_id;
  e.kind = kind;
  e.binding = binding;
  e.detail = detail;
  return impl_->Transaction([&] { return impl_->AppendEntry(e); });
}

Result<std::optional<int64_t>> StateDb::ApprovalUsedBy(const std::string& plan_id) const {
  auto approvals = impl_->Entries("WHERE kind = ? ORDER BY id", {audit_kind::kApproval});
  if (!approvals.ok()) return approvals.status();
  for (const auto& e : *approvals) {
    auto d = nlohmann::json::parse(e.detail, nullptr, false);
    if (d.is_object() && d.value("plan_id", "") == plan_id) return std::optional<int64_t>(e.run_id);
  }
  return std::optional<int64_t>();
}

std::string StateDb::Digest(const std::string& value) const { return impl_->Mac(value); }

Result<int64_t> StateDb::AddHold(OperatorHold::Kind kind, const std::string& value, const std::string& binding,
                                 const std::string& reason, const std::string& author) {
  if (reason.empty()) return Status::InvalidArgument("a hold needs a reason");
  for (const std::string* text : {&reason, &author, &binding})
    if (internal::FirstInvalidUtf8(*text) != std::string::npos)
      return Status::InvalidArgument("a hold's reason, author and binding are UTF-8 text");
  if (kind != OperatorHold::Kind::kSubject && kind != OperatorHold::Kind::kKey &&
      internal::FirstInvalidUtf8(value) != std::string::npos)
    return Status::InvalidArgument("a rule or store name is UTF-8 text");
  OperatorHold h;
  h.kind = kind;
  h.value = (kind == OperatorHold::Kind::kSubject || kind == OperatorHold::Kind::kKey) ? Digest(value) : value;
  h.binding = kind == OperatorHold::Kind::kKey ? BindingRecordsOf(binding) : "";
  h.reason = reason;
  h.author = author;
  h.created_at = NowUtc();
  Status s = impl_->Transaction([&]() -> Status {
    if (Status i = impl_->Exec("INSERT INTO holds (kind, value, binding, reason, author, created_at) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               {HoldKindName(kind), h.value, h.binding, h.reason, h.author, h.created_at});
        !i.ok())
      return i;
    auto inserted = impl_->sql->LastInsertId();
    if (!inserted.ok()) return inserted.status();
    h.id = *inserted;
    AuditEntry e;
    e.kind = audit_kind::kHoldAdd;
    e.binding = h.binding;
    e.detail = nlohmann::json{{"hold", h.id}, {"kind", HoldKindName(kind)}, {"value", h.value}, {"reason", h.reason},
                              {"author", h.author}, {"created_at", h.created_at}}
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return impl_->AppendEntry(e);
  });
  if (!s.ok()) return s;
  if (Status a = impl_->WriteAnchor(0); !a.ok()) return a;
  if (Status r = ReloadHolds(); !r.ok()) return r;
  return h.id;
}

Status StateDb::ReleaseHold(int64_t id, const std::string& reason, const std::string& author) {
  if (reason.empty()) return Status::InvalidArgument("releasing a hold needs a reason");
  if (internal::FirstInvalidUtf8(reason) != std::string::npos || internal::FirstInvalidUtf8(author) != std::string::npos)
    return Status::InvalidArgument("a release's reason and author are UTF-8 text");
  Status s = impl_->Transaction([&]() -> Status {
    bool active = false;
    Status q = impl_->Query("SELECT 1 FROM holds WHERE id = ? AND released_at IS NULL", {std::to_string(id)},
                            [&](const StateRow&) { active = true; });
    if (!q.ok()) return q;
    if (!active) return Status::NotFound(fmt::format("no active hold with id {}", id));
    std::string now = NowUtc();
    if (Status u = impl_->Exec("UPDATE holds SET released_at = ?, release_reason = ?, release_author = ? WHERE id = ?",
                               {now, reason, author, std::to_string(id)});
        !u.ok())
      return u;
    AuditEntry e;
    e.kind = audit_kind::kHoldRelease;
    e.detail = nlohmann::json{{"hold", id}, {"reason", reason}, {"author", author}, {"released_at", now}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return impl_->AppendEntry(e);
  });
  if (!s.ok()) return s;
  if (Status a = impl_->WriteAnchor(0); !a.ok()) return a;
  return ReloadHolds();
}

Result<std::vector<OperatorHold>> StateDb::Holds(bool include_released) const {
  std::vector<OperatorHold> out;
  Status s = impl_->Query(fmt::format("SELECT {} FROM holds{} ORDER BY id", kHoldColumns,
                                      include_released ? "" : " WHERE released_at IS NULL"),
                          {}, [&](const StateRow& r) { out.push_back(ToHold(r)); });
  if (!s.ok()) return s;
  return out;
}

const HoldChecker& StateDb::holds() const { return impl_->active; }

// A hold released in one place but not the other stays active: a row deleted or a
// release written into the table without its chain entry does not lift a hold.
Status StateDb::ReloadHolds() {
  auto table = Holds(false);
  if (!table.ok()) return table.status();
  auto chain = impl_->HoldsFromChain();
  if (!chain.ok()) return chain.status();
  for (auto& h : *chain) {
    bool listed = std::any_of(table->begin(), table->end(), [&](const OperatorHold& t) { return t.id == h.id; });
    if (h.released_at.empty() && !listed) table->push_back(std::move(h));
  }
  impl_->active.holds = std::move(*table);
  return Status::Ok();
}

void StateDb::FenceBatches(const std::string& binding, const std::string& owner, int seconds) {
  impl_->lease_lost = false;
  if (binding.empty())
    impl_->fence.reset();
  else
    impl_->fence = Impl::Fence{binding, owner, seconds};
}

bool StateDb::LeaseLost() const { return impl_->lease_lost; }

Status StateDb::BeginBatch() {
  if (Status s = impl_->sql->Begin(StateBackend::Txn::kBatch); !s.ok()) return s;
  if (impl_->fence) {
    // The row lock taken here is held until CommitBatch: a claim (FOR UPDATE SKIP
    // LOCKED) skips the binding while this batch is applied, even past its expiry.
    auto kept = RenewLease(impl_->fence->binding, impl_->fence->owner, impl_->fence->seconds);
    if (!kept.ok() || !*kept) {
      impl_->sql->Rollback();
      impl_->lease_lost = kept.ok();
      return kept.ok() ? Status::FailedPrecondition(fmt::format("the lease of binding {} was lost: another instance "
                                                                "holds it; stopped before the next batch",
                                                                impl_->fence->binding))
                       : kept.status();
    }
  }
  return ReloadHolds();
}

Status StateDb::AppendAudit(int64_t run_id, const AppliedBatch& batch, const std::string& policy_hash) {
  AuditEntry e;
  e.run_id = run_id;
  e.kind = audit_kind::kBatch;
  e.binding = batch.binding->name;
  e.rule_id = batch.binding->rule->id;
  e.action = PhaseName(batch.action);
  e.key_digests = batch.key_digests;  // a recovered batch (recover.h) carries digests
  for (const auto& k : batch.keys) e.key_digests.push_back(Digest(k));
  e.count = static_cast<int64_t>(e.key_digests.size());
  e.policy_hash = policy_hash;
  nlohmann::json detail{{"store", batch.binding->store}, {"table", batch.binding->table},
                        {"records_of", BindingRecordsOf(batch.binding->name)}};
  if (!batch.part.empty()) detail["part_dropped"] = batch.part;
  e.detail = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (Status s = impl_->sql->LockChain(); !s.ok()) return s;
  return impl_->AppendEntry(e);
}

Status StateDb::CommitBatch() { return impl_->sql->Commit(); }

void StateDb::AbortBatch() { impl_->sql->Rollback(); }

}  // namespace retention
