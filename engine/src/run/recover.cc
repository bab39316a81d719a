#include "retention/recover.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace retention {
namespace {

// "run-12" → 12; 0 when the id has another form.
int64_t RunNumber(const std::string& run_id) {
  int64_t n = 0;
  const char* first = run_id.data() + std::min<size_t>(run_id.size(), 4);
  const char* last = run_id.data() + run_id.size();
  if (run_id.rfind("run-", 0) != 0) return 0;
  auto [end, ec] = std::from_chars(first, last, n);
  return ec == std::errc() && end == last ? n : 0;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Whether the audit already holds this batch (the crash came after the audit commit).
Result<bool> AlreadyRecorded(const StateDb& state, int64_t run, const StagedBatch& batch,
                             const std::vector<std::string>& digests) {
  if (run == 0) return false;
  auto entries = state.Audit(run);
  if (!entries.ok()) return entries.status();
  for (const auto& e : *entries)
    if (e.binding == batch.binding && e.action == PhaseName(batch.action) && Sorted(e.key_digests) == digests)
      return true;
  return false;
}

Status RecordBatch(const Deployment& d, StateDb* state, const StagedBatch& batch, const std::string& policy_hash,
                   Recovery* out) {
  const Binding* binding = d.FindBinding(batch.binding);
  if (!binding || batch.action == Phase::kActive)
    return Status::FailedPrecondition(fmt::format(
        "an interrupted run left a journaled batch for binding '{}', which this configuration does not have: "
        "restore the binding so that the batch can be recorded", batch.binding));
  AppliedBatch applied{binding, batch.action, {}, {}, {}, {}};
  applied.key_digests = batch.key_digests;
  for (const auto& k : batch.keys) applied.key_digests.push_back(state->Digest(k));
  int64_t run = RunNumber(batch.run_id);
  auto recorded = AlreadyRecorded(*state, run, batch, Sorted(applied.key_digests));
  if (!recorded.ok()) return recorded.status();
  if (*recorded) return Status::Ok();
  if (Status s = state->BeginBatch(); !s.ok()) return s;
  if (Status s = state->AppendAudit(run, applied, policy_hash); !s.ok()) {
    state->AbortBatch();
    return s;
  }
  if (Status s = state->CommitBatch(); !s.ok()) return s;
  ++out->recorded;
  out->records += static_cast<int64_t>(applied.key_digests.size());
  return Status::Ok();
}

}  // namespace

Result<Recovery> RecoverInterruptedBatches(const Deployment& deployment, const Stores& stores, StateDb* state,
                                           const std::string& policy_hash,
                                           const std::function<bool(const std::string&)>& mine) {
  Recovery out;
  const std::string me = state->Digest(kJournalOwner);
  for (const auto& store : deployment.stores) {
    Connector* connector = stores.Find(store.name);
    if (!connector) continue;
    auto batches = connector->Recover();
    if (!batches.ok()) return batches.status();
    for (const auto& batch : *batches) {
      if (!batch.owner.empty() && batch.owner != me) {
        ++out.foreign;
        continue;
      }
      if (mine && !mine(batch.binding)) continue;
      ++out.batches;
      if (Status s = RecordBatch(deployment, state, batch, policy_hash, &out); !s.ok()) return s;
      if (Status s = connector->Confirm(batch.id); !s.ok()) return s;
    }
  }
  return out;
}

}  // namespace retention
