// Rule locks at plan and run time (run.h, LockFinding). Private to the engine.
#pragma once

#include <vector>

#include "retention/run.h"

namespace retention::internal {

// Every lock (holding or overridden) whose rule `policies` would make act earlier on a
// bound record than its locked version, evaluated through EvaluateImpact. A lock whose
// rule means the same as when locked costs nothing.
Result<std::vector<LockFinding>> CheckPolicyLocks(const Deployment& deployment, const PolicySet& policies,
                                                  const Stores& stores, const StateDb& state, Date as_of,
                                                  const HoldChecker* holds);

// The refusal of a run: the findings whose lock still holds, or Ok.
Status RefuseLocked(const std::vector<LockFinding>& findings);

// The overridden locks a run relied on, as the lock_override entry's detail (JSON
// array), "" when none.
std::string OverridesDetail(const std::vector<LockFinding>& findings);

}  // namespace retention::internal
