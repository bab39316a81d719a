// Approved plans bound to records: saving a plan for approval, reading it back, and
// the checks a run makes before using one. Private to the run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "retention/run.h"

namespace retention::internal {

// binding → action → HMAC digests of the due records' keys.
using DueDigests = std::map<std::string, std::map<Phase, std::vector<std::string>>>;

// The plan as `plan --save` writes it: the plan's JSON without sample keys, and an
// `approval` object (id, dates, per binding and action the count, set digest and key
// digests, MAC under `key`).
std::string ApprovalJson(const Plan& plan, const DueDigests& due, const std::string& key, Date created, int days);

// Refuses (kFailedPrecondition) a plan that was edited, made under other policies or
// another configuration, is dated after `today` or after the run's `as_of`, expired,
// or was already used; kInvalidArgument when it names no approver.
Status CheckApproval(const ApprovedPlan& plan, const StateDb& state, const std::string& policy_hash,
                     const std::string& config_hash, Date today, Date as_of);

// The approval entry's detail in the audit chain (and the certificate's).
std::string ApprovalDetail(const ApprovedPlan& plan);

}  // namespace retention::internal
