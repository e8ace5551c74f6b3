#pragma once

// Between the SDK's payloads (hourglass/payload.h, the one JSON converter) and
// Temporal's wire payloads. The SDK keeps its own proto conversion private, so
// the CLI carries this small copy of the mapping: metadata map plus data.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hourglass/payload.h"
#include "temporal/api/common/v1/message.pb.h"

namespace hourglass::cli {

namespace common_pb = ::temporal::api::common::v1;

// What the CLI prints: keys stay in the order they are written, so every
// object reads workflow_id first, as docs/cli.md shows it.
using Json = nlohmann::ordered_json;

common_pb::Payload ToProto(const Payload& payload);
Payload FromProto(const common_pb::Payload& payload);

// One json/plain payload per --input argument, in order. Throws UsageError
// naming `flag` and the argument when one is not JSON.
common_pb::Payloads JsonArgumentsToPayloads(const std::vector<std::string>& arguments,
                                            const std::string& flag);

// A payload as JSON: json/plain and binary/null decode to their value,
// anything else renders as DescribePayload's string.
Json PayloadToOutput(const common_pb::Payload& payload);
// Null for none, the value for one, an array for several.
Json PayloadsToOutput(const common_pb::Payloads& payloads);

}  // namespace hourglass::cli
