// Interrupted batches: a change a store committed whose audit entry the state database
// never committed (the process was killed in between). Every store journals what each
// batch changed with the change itself (SQL stores: a table in the same transaction;
// files: a per-run trash directory); the next run, before anything else, records each
// journaled batch the audit lacks, then lets the store drop the journal.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "retention/connector.h"
#include "retention/deployment.h"
#include "retention/state.h"

namespace retention {

struct Recovery {
  int64_t batches = 0;    // journaled batches found
  int64_t recorded = 0;   // of which the audit lacked: now recorded
  int64_t records = 0;    // records in the batches now recorded
  int64_t foreign = 0;    // batches journaled by another deployment sharing a store: left alone
};

// Call with the run lock held. A journaled batch names a binding of the deployment;
// one the configuration no longer has is an error (nothing is dropped). With `mine`,
// only the batches of the bindings it accepts are taken (a lease-sharded run recovers
// the binding it leased, never another instance's batch in flight). A batch journaled
// under another deployment's owner (StagedBatch::owner) is left for that deployment.
Result<Recovery> RecoverInterruptedBatches(const Deployment& deployment, const Stores& stores, StateDb* state,
                                           const std::string& policy_hash,
                                           const std::function<bool(const std::string&)>& mine = nullptr);

}  // namespace retention
