// A connector for another store type: JSON-lines files, one per table, one record per
// line ({"id": "1", "fin_droits": "2020-01-31", ...}). A program registers it next to
// the built-in ones and binds it from its configuration:
//
//   stores:
//     exports: {type: jsonl, directory: data}   # table T is data/T.jsonl
//
// It deletes (one atomic rewrite of the file per batch, re-checking each record);
// it does not archive nor pseudonymise, and says so.
#pragma once

#include "retention/connector.h"

namespace example {

// Registers the type "jsonl".
void RegisterJsonLinesConnector(retention::ConnectorRegistry& registry);

}  // namespace example
