// The keyed audit chain: appending, reading, verifying, and the anchors of its head
// outside the state database.
#include <syslog.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "state/audit_canonical.h"
#include <nlohmann/json.hpp>

#include "state/state_db.h"

namespace retention {
namespace {

constexpr const char* kEntryColumns =
    "id, run_id, time, kind, binding, rule_id, action, count, key_digests, policy_hash, detail, prev_hash, hash";

// Key digests are hexadecimal: their JSON array is read and written directly, which
// nlohmann's general parser and serializer made the bulk of verifying a long history.
// Any other text takes the general path, so the result is always what nlohmann gives.
bool Plain(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

bool ParsePlainArray(const std::string& text, std::vector<std::string>* out) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return false;
  const size_t end = text.size() - 1;
  for (size_t i = 1; i < end;) {
    if (text[i] != '"') return false;
    size_t close = text.find('"', i + 1);
    if (close == std::string::npos || close >= end) return false;
    std::string_view item(text.data() + i + 1, close - i - 1);
    if (!Plain(item)) return false;
    out->emplace_back(item);
    i = close + 1;
    if (i == end) break;
    if (text[i] != ',' || i + 1 == end) return false;
    ++i;
  }
  return true;
}

std::vector<std::string> ParseDigests(const std::string& text) {
  std::vector<std::string> out;
  if (ParsePlainArray(text, &out)) return out;
  out.clear();
  auto digests = nlohmann::json::parse(text, nullptr, false);
  if (digests.is_array())
    for (const auto& d : digests)
      if (d.is_string()) out.push_back(d.get<std::string>());
  return out;
}

}  // namespace

std::string DigestsJson(const std::vector<std::string>& digests) {
  if (!std::all_of(digests.begin(), digests.end(), [](const std::string& d) { return Plain(d); }))
    return nlohmann::json(digests).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  size_t size = 2;
  for (const auto& d : digests) size += d.size() + 3;
  std::string out;
  out.reserve(size);
  out += '[';
  for (size_t i = 0; i < digests.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += digests[i];
    out += '"';
  }
  out += ']';
  return out;
}

namespace {

AuditEntry ToEntry(const StateRow& r) {
  AuditEntry e;
  e.id = ParseInt(r[0]).value_or(0);
  e.run_id = ParseInt(r[1]).value_or(0);
  e.time = r[2].value_or("");
  e.kind = r[3].value_or("");
  e.binding = r[4].value_or("");
  e.rule_id = r[5].value_or("");
  e.action = r[6].value_or("");
  // A count that is not an integer cannot match its digests: verification reports it.
  e.count = ParseInt(r[7]).value_or(-1);
  e.key_digests = ParseDigests(r[8].value_or("[]"));
  e.policy_hash = r[9].value_or("");
  e.detail = r[10].value_or("");
  e.prev_hash = r[11].value_or("");
  e.hash = r[12].value_or("");
  return e;
}

nlohmann::json Detail(const AuditEntry& e) {
  auto d = nlohmann::json::parse(e.detail, nullptr, false);
  return d.is_object() ? d : nlohmann::json::object();
}

AuditVerification Broken(AuditVerification v, int64_t id, std::string problem) {
  v.ok = false;
  v.first_bad_id = id;
  v.problem = std::move(problem);
  return v;
}

// The chain itself, one entry at a time in id order: contiguous ids, each entry chained
// and keyed, its count that of its digests. Batch entries before `from.through` (a head
// an earlier verification recomputed) are only checked for their id and link; every
// other entry is recomputed, and the ids of the entries that are not batches must be
// those the earlier verification saw (`from.others`), so that no hold, run, lock or
// approval can be rewritten into a batch or out of one.
class ChainCheck {
 public:
  ChainCheck() = default;
  explicit ChainCheck(StateDb::Impl::Verified from) : from_(std::move(from)) { v_.macs_from = from_.through; }

  // False once the chain is broken (v() says where).
  bool Add(const StateDb::Impl& impl, const AuditEntry& e) {
    if (!v_.ok) return false;
    ++v_.entries;
    if (e.id != expected_id_)
      return Fail(Broken(v_, e.id, fmt::format("entry {} follows entry {}: an entry was removed", e.id, expected_id_ - 1)));
    if (e.prev_hash != prev_) return Fail(Broken(v_, e.id, fmt::format("entry {} does not chain to the previous entry", e.id)));
    const bool batch = e.kind == audit_kind::kBatch;
    if (!batch) others_ += fmt::format("{},", e.id);
    if (e.id == from_.through && (e.hash != from_.head || impl.Mac(others_) != from_.others))
      return Fail(Broken(v_, e.id, fmt::format("entry {} or an earlier one is not as an earlier verification recorded "
                                               "it: the history was rewritten", e.id)));
    if (e.id >= from_.through || !batch) {
      if (impl.Mac(AuditCanonical(e)) != e.hash)
        return Fail(Broken(v_, e.id, fmt::format("entry {} was modified, or the chain was recomputed without the audit key", e.id)));
      if (e.count != static_cast<int64_t>(e.key_digests.size()))
        return Fail(Broken(v_, e.id, fmt::format("entry {} counts {} keys but lists {}", e.id, e.count, e.key_digests.size())));
    }
    prev_ = e.hash;
    ++expected_id_;
    return true;
  }

  // What the next run records as verified (StateDb::Impl::verified).
  std::string Others(const StateDb::Impl& impl) const { return impl.Mac(others_); }

  AuditVerification Result() const {
    AuditVerification v = v_;
    if (v.ok && expected_id_ <= from_.through)
      return Broken(v, expected_id_ - 1, fmt::format("the chain ends at entry {}, before the head an earlier "
                                                     "verification recorded (entry {})", expected_id_ - 1, from_.through));
    if (v.ok) v.head = prev_;
    return v;
  }

 private:
  bool Fail(AuditVerification broken) {
    v_ = std::move(broken);
    return false;
  }

  AuditVerification v_;
  std::string prev_ = "genesis";
  int64_t expected_id_ = 1;
  StateDb::Impl::Verified from_;  // through = 0: every MAC recomputed
  std::string others_;            // the ids of the entries that are not batches, "1,2,5,"
};

}  // namespace

namespace internal {

bool FullVerificationDue(const std::string& full_at, Date today) {
  auto full = full_at.size() >= 10 ? Date::Parse(full_at.substr(0, 10)) : std::nullopt;
  return !full || today < *full || !(today < full->AddDays(kFullVerifyDays));
}

}  // namespace internal

namespace {

// Where a kSinceVerified verification may start: the head recorded by the latest run_start
// entry (checked with the MACs from there on), if the whole chain was recomputed less
// than kFullVerifyDays ago. Nothing: recompute everything.
std::optional<StateDb::Impl::Verified> RecordedHead(const StateDb::Impl& impl) {
  auto starts = impl.Entries("WHERE kind = ? ORDER BY id DESC LIMIT 1", {audit_kind::kRunStart});
  if (!starts.ok() || starts->empty()) return std::nullopt;
  auto detail = Detail(starts->front());
  auto it = detail.find("verified");
  if (it == detail.end() || !it->is_object()) return std::nullopt;
  StateDb::Impl::Verified head;
  head.through = it->value("through", int64_t{0});
  head.head = it->value("head", std::string());
  head.full_at = it->value("full_at", std::string());
  head.others = it->value("others", std::string());
  auto today = Date::Parse(NowUtc().substr(0, 10));
  if (head.through < 1 || head.through >= starts->front().id || head.head.empty() || head.others.empty() || !today ||
      internal::FullVerificationDue(head.full_at, *today))
    return std::nullopt;
  return head;
}

std::string HoldMismatch(const OperatorHold& table, const OperatorHold& chain) {
  if (table.kind != chain.kind || table.value != chain.value || table.binding != chain.binding) return "what it holds";
  if (table.reason != chain.reason || table.author != chain.author || table.created_at != chain.created_at)
    return "its reason, author or date";
  if (table.released_at != chain.released_at) return "released_at";
  if (table.release_reason != chain.release_reason || table.release_author != chain.release_author)
    return "its release";
  return "";
}

// The holds table must say exactly what the chain says.
AuditVerification VerifyHolds(AuditVerification v, const std::vector<OperatorHold>& table,
                              const std::vector<OperatorHold>& chain) {
  std::map<int64_t, const OperatorHold*> by_id;
  for (const auto& h : chain) by_id[h.id] = &h;
  for (const auto& t : table) {
    auto it = by_id.find(t.id);
    if (it == by_id.end()) return Broken(v, t.id, fmt::format("hold {} is in the holds table but not in the audit chain", t.id));
    std::string what = HoldMismatch(t, *it->second);
    if (!what.empty()) return Broken(v, t.id, fmt::format("hold {} was edited in the holds table ({})", t.id, what));
    by_id.erase(it);
  }
  if (!by_id.empty())
    return Broken(v, by_id.begin()->first,
                  fmt::format("hold {} is in the audit chain but was deleted from the holds table", by_id.begin()->first));
  return v;
}

// The runs table must list exactly the runs the chain started, with their hashes.
AuditVerification VerifyRuns(AuditVerification v, const std::vector<RunRecord>& runs,
                             const std::vector<AuditEntry>& entries) {
  std::map<int64_t, const AuditEntry*> starts;
  for (const auto& e : entries)
    if (e.kind == audit_kind::kRunStart) starts[e.run_id] = &e;
  for (const auto& r : runs) {
    auto it = starts.find(r.id);
    if (it == starts.end()) return Broken(v, r.id, fmt::format("run {} is in the runs table but not in the audit chain", r.id));
    auto d = Detail(*it->second);
    if (d.value("as_of", "") != r.as_of.ToString() || it->second->policy_hash != r.policy_hash ||
        d.value("configuration", "") != r.config_hash)
      return Broken(v, r.id, fmt::format("run {} was edited in the runs table", r.id));
    starts.erase(it);
  }
  if (!starts.empty())
    return Broken(v, starts.begin()->first,
                  fmt::format("run {} is in the audit chain but was deleted from the runs table", starts.begin()->first));
  return v;
}

// Every anchor names a length and head the chain must still have.
// A shared chain (several instances, docs/scaling.md) is anchored by each host in its own
// file: a host's anchors check the heads it saw, in any order (two processes may append
// their lines out of order), and cannot cover the entries other hosts wrote.
AuditVerification VerifyAnchors(AuditVerification v, const AnchorSettings& anchors,
                                const std::optional<std::string>& text, const std::vector<AuditEntry>& entries,
                                bool shared) {
  if (anchors.file.empty()) {
    v.anchor_note = anchors.syslog ? "anchors go to syslog only: compare them with `audit show`" : "no anchors configured";
    return v;
  }
  // Anchors are written right after a run ends and after a hold changes, outside the
  // database's transaction: a kill between the two can leave the last such entry
  // unanchored, never an earlier one.
  int64_t must_cover = 0, latest = 0;
  for (const auto& e : entries)
    if (e.kind == audit_kind::kRunEnd || e.kind == audit_kind::kHoldAdd || e.kind == audit_kind::kHoldRelease ||
        e.kind == audit_kind::kPolicyLock || e.kind == audit_kind::kPolicyUnlock) {
      must_cover = latest;
      latest = e.id;
    }
  if (!text) {
    if (shared) {
      v.anchor_note = "no anchor from this host yet (a shared chain: each host anchors the heads it wrote)";
      return v;
    }
    if (must_cover == 0) {
      v.anchor_note = "no anchor yet: at most the last run end or hold change, interrupted before its anchor";
      return v;
    }
    return Broken(v, 0, fmt::format("the anchor file {} is missing", anchors.file));
  }
  std::istringstream in(*text);
  std::string line;
  int64_t number = 0, last = 0;
  while (std::getline(in, line)) {
    ++number;
    auto a = nlohmann::json::parse(line, nullptr, false);
    if (!a.is_object() || !a.contains("entries") || !a["entries"].is_number_integer() || !a.contains("head") ||
        !a["head"].is_string())
      return Broken(v, number, fmt::format("anchor line {} of {} is not an anchor", number, anchors.file));
    int64_t n = a["entries"].get<int64_t>();
    std::string head = a["head"].get<std::string>();
    if (n < last && !shared)
      return Broken(v, number, fmt::format("anchor line {} goes back from {} to {} entries", number, last, n));
    if (n > static_cast<int64_t>(entries.size()))
      return Broken(v, static_cast<int64_t>(entries.size()) + 1,
                    fmt::format("anchor line {} recorded {} entries but the chain has {}: entries or runs were removed",
                                number, n, entries.size()));
    if (n > 0 && entries[static_cast<size_t>(n - 1)].hash != head)
      return Broken(v, n, fmt::format("entry {} is not the head anchored on line {}: the chain was rewritten", n, number));
    last = std::max(last, n);
    ++v.anchors;
  }
  if (last < must_cover && !shared)
    return Broken(v, must_cover, fmt::format("entry {} (a run end or hold change) was never anchored in {}: anchor "
                                             "lines were removed", must_cover, anchors.file));
  return v;
}

}  // namespace

std::string AuditCanonical(const AuditEntry& e) {
  nlohmann::ordered_json j;
  j["id"] = e.id;
  j["run_id"] = e.run_id;
  j["time"] = e.time;
  j["kind"] = e.kind;
  j["binding"] = e.binding;
  j["rule_id"] = e.rule_id;
  j["action"] = e.action;
  j["count"] = e.count;
  j["key_digests"] = nullptr;  // written below, as nlohmann would (DigestsJson)
  j["policy_hash"] = e.policy_hash;
  j["detail"] = e.detail;
  j["prev_hash"] = e.prev_hash;
  std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // The first `"key_digests":null` is the member: inside a string value a '"' is escaped.
  static constexpr std::string_view kMember = "\"key_digests\":null";
  size_t at = text.find(kMember);
  return text.replace(at + kMember.size() - 4, 4, DigestsJson(e.key_digests));
}

Status StateDb::Impl::AppendEntry(AuditEntry e) const {
  std::string prev = "genesis";
  int64_t last_id = 0;
  Status s = Query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", {}, [&](const StateRow& r) {
    last_id = ParseInt(r[0]).value_or(0);
    prev = r[1].value_or("");
  });
  if (!s.ok()) return s;
  e.id = last_id + 1;
  e.time = NowUtc();
  if (e.detail.empty()) e.detail = "{}";
  e.prev_hash = prev;
  e.hash = Mac(AuditCanonical(e));
  return Exec(fmt::format("INSERT INTO audit ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", kEntryColumns),
              {std::to_string(e.id), std::to_string(e.run_id), e.time, e.kind, e.binding, e.rule_id, e.action,
               std::to_string(e.count), DigestsJson(e.key_digests), e.policy_hash, e.detail, e.prev_hash,
               e.hash});
}

Result<std::vector<AuditEntry>> StateDb::Impl::Entries(const std::string& where,
                                                       const std::vector<StateValue>& params) const {
  std::vector<AuditEntry> out;
  Status s = Query(fmt::format("SELECT {} FROM audit {}", kEntryColumns, where), params,
                   [&](const StateRow& r) { out.push_back(ToEntry(r)); });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<OperatorHold>> StateDb::Impl::HoldsFromChain() const {
  auto entries = Entries("WHERE kind IN (?, ?) ORDER BY id", {audit_kind::kHoldAdd, audit_kind::kHoldRelease});
  if (!entries.ok()) return entries.status();
  std::vector<OperatorHold> out;
  for (const auto& e : *entries) {
    auto d = Detail(e);
    int64_t id = d.contains("hold") && d["hold"].is_number_integer() ? d["hold"].get<int64_t>() : 0;
    if (e.kind == audit_kind::kHoldAdd) {
      OperatorHold h;
      h.id = id;
      std::string kind = d.value("kind", "");
      for (auto k : {OperatorHold::Kind::kSubject, OperatorHold::Kind::kKey, OperatorHold::Kind::kRule,
                     OperatorHold::Kind::kStore})
        if (kind == HoldKindName(k)) h.kind = k;
      h.value = d.value("value", "");
      h.binding = e.binding;
      h.reason = d.value("reason", "");
      h.author = d.value("author", "");
      h.created_at = d.value("created_at", "");
      out.push_back(std::move(h));
      continue;
    }
    for (auto& h : out)
      if (h.id == id) {
        h.released_at = d.value("released_at", "");
        h.release_reason = d.value("reason", "");
        h.release_author = d.value("author", "");
      }
  }
  return out;
}

Status StateDb::Impl::WriteAnchor(int64_t run_id) const {
  auto last = Entries("ORDER BY id DESC LIMIT 1", {});
  if (!last.ok()) return last.status();
  int64_t entries = last->empty() ? 0 : last->front().id;
  std::string head = last->empty() ? "genesis" : last->front().hash;
  std::string line = nlohmann::json{{"time", NowUtc()}, {"run", run_id}, {"entries", entries}, {"head", head}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (anchors.syslog) {
    // No openlog/closelog: the ident, facility and connection belong to the process.
    syslog(LOG_AUTHPRIV | LOG_NOTICE, "retention audit anchor %s %s", sql->Label().c_str(), line.c_str());
  }
  if (anchors.file.empty()) return Status::Ok();
  int fd = open(anchors.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IoError(fmt::format("cannot open the anchor file {}", anchors.file));
  line += "\n";
  bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  if (!written) return Status::IoError(fmt::format("cannot write the anchor file {}", anchors.file));
  return Status::Ok();
}

Result<std::vector<AuditEntry>> StateDb::Audit(std::optional<int64_t> run_id) const {
  if (run_id) return impl_->Entries("WHERE run_id = ? ORDER BY id", {std::to_string(*run_id)});
  return impl_->Entries("ORDER BY id", {});
}

Result<AuditVerification> StateDb::VerifyAudit(ChainScope scope) const {
  // The anchor file is read before the snapshot is taken: an anchor is written after its
  // entries are committed, so every line read then is within the snapshot, even while
  // other processes append entries and anchors.
  std::optional<std::string> anchors;
  if (!impl_->anchors.file.empty()) {
    std::ifstream in(impl_->anchors.file);
    if (in) anchors = std::string(std::istreambuf_iterator<char>(in), {});
  }
  // One snapshot of every table: another instance sharing the database may append
  // meanwhile (a run row and its run_start entry are committed together).
  Result<AuditVerification> out = Status::Internal("audit verification did not run");
  Status s = impl_->Transaction([&]() -> Status {
    out = VerifyAuditInSnapshot(anchors, scope);
    return out.ok() ? Status::Ok() : out.status();
  }, StateBackend::Txn::kRead);
  if (!s.ok()) return s;
  return out;
}

Result<AuditVerification> StateDb::VerifyAuditInSnapshot(const std::optional<std::string>& anchors,
                                                         ChainScope scope) const {
  std::optional<Impl::Verified> from;
  if (scope == ChainScope::kSinceVerified) from = RecordedHead(*impl_);
  // Read row by row: each entry is checked as it is read and kept without its key
  // digests (the bulk of a long history), so memory does not grow with the records
  // the history changed. Entries whose MAC is not recomputed are read without them.
  std::vector<AuditEntry> entries;
  ChainCheck check = from ? ChainCheck(*from) : ChainCheck();
  std::string columns = kEntryColumns;
  if (from)
    columns.replace(columns.find("key_digests"), std::string("key_digests").size(),
                    fmt::format("CASE WHEN id >= {} OR kind <> '{}' THEN key_digests ELSE '[]' END", from->through,
                                audit_kind::kBatch));
  Status read = impl_->Query(fmt::format("SELECT {} FROM audit ORDER BY id", columns), {},
                             [&](const StateRow& r) {
                               AuditEntry e = ToEntry(r);
                               if (!check.Add(*impl_, e)) return;
                               std::vector<std::string>().swap(e.key_digests);
                               entries.push_back(std::move(e));
                             });
  if (!read.ok()) return read;
  AuditVerification v = check.Result();
  if (!v.ok) return v;
  entries.shrink_to_fit();
  v = VerifyAnchors(v, impl_->anchors, anchors, entries, impl_->sql->Shared());
  if (!v.ok) return v;
  auto table = Holds(true);
  if (!table.ok()) return table.status();
  auto chain = impl_->HoldsFromChain();
  if (!chain.ok()) return chain.status();
  v = VerifyHolds(v, *table, *chain);
  if (!v.ok) return v;
  auto runs = Runs();
  if (!runs.ok()) return runs.status();
  v = VerifyRuns(v, *runs, entries);
  if (!v.ok) return v;
  v = impl_->VerifyVersions(v, entries);
  if (!v.ok) return v;
  v.full_at = from ? from->full_at : NowUtc();
  impl_->verified = Impl::Verified{v.entries, v.head, v.full_at, check.Others(*impl_)};
  return v;
}

}  // namespace retention
