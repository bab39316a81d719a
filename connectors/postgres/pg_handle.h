// The one libpq wrapper of the project: owners of a connection, a result, a cancel
// handle and libpq-allocated memory that free themselves (std::unique_ptr with a
// deleter), so that no path forgets a PQclear or a PQfinish. Non-copyable by
// construction; private to the PostgreSQL connector and its tests.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace retention::pg {

struct ConnectionCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
struct CancelFreer {
  void operator()(PGcancel* cancel) const { PQfreeCancel(cancel); }
};
struct ConninfoFreer {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
struct MemoryFreer {
  void operator()(void* memory) const { PQfreemem(memory); }
};

using Connection = std::unique_ptr<PGconn, ConnectionCloser>;
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;
using Cancel = std::unique_ptr<PGcancel, CancelFreer>;
using Conninfo = std::unique_ptr<PQconninfoOption, ConninfoFreer>;
using Memory = std::unique_ptr<char, MemoryFreer>;

}  // namespace retention::pg
