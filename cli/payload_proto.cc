#include "cli/payload_proto.h"

#include "cli/errors.h"

namespace hourglass::cli {

common_pb::Payload ToProto(const Payload& payload) {
  common_pb::Payload out;
  for (const auto& [key, value] : payload.metadata) (*out.mutable_metadata())[key] = value;
  out.set_data(payload.data);
  return out;
}

Payload FromProto(const common_pb::Payload& payload) {
  Payload out;
  for (const auto& [key, value] : payload.metadata()) out.metadata[key] = value;
  out.data = payload.data();
  return out;
}

common_pb::Payloads JsonArgumentsToPayloads(const std::vector<std::string>& arguments,
                                            const std::string& flag) {
  common_pb::Payloads out;
  for (size_t i = 0; i < arguments.size(); ++i) {
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(arguments[i]);
    } catch (const nlohmann::json::parse_error& e) {
      throw UsageError(flag + " #" + std::to_string(i + 1) + " is not valid JSON (" + arguments[i] +
                       "): " + e.what() + "; a JSON string needs its own quotes, e.g. '\"text\"'");
    }
    *out.add_payloads() = ToProto(JsonPayload(value));
  }
  return out;
}

Json PayloadToOutput(const common_pb::Payload& payload) {
  const Payload p = FromProto(payload);
  if (p.encoding() == encoding::kJson || p.encoding() == encoding::kNull) {
    try {
      return Json(PayloadToJson(p));
    } catch (const PayloadError&) {
      // Mislabelled bytes: fall through to the description.
    }
  }
  return DescribePayload(p);
}

Json PayloadsToOutput(const common_pb::Payloads& payloads) {
  if (payloads.payloads_size() == 0) return nullptr;
  if (payloads.payloads_size() == 1) return PayloadToOutput(payloads.payloads(0));
  Json all = Json::array();
  for (const auto& p : payloads.payloads()) all.push_back(PayloadToOutput(p));
  return all;
}

}  // namespace hourglass::cli
