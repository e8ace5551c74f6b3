#include "hourglass/payload.h"

#include <cxxabi.h>

#include <cstdlib>

#include "hourglass/failure.h"

namespace hourglass {

Payload NullPayload() {
  Payload p;
  p.metadata["encoding"] = std::string(encoding::kNull);
  return p;
}

Payload BytesPayload(std::string bytes) {
  Payload p;
  p.metadata["encoding"] = std::string(encoding::kBinary);
  p.data = std::move(bytes);
  return p;
}

Payload JsonPayload(const nlohmann::json& value) {
  Payload p;
  p.metadata["encoding"] = std::string(encoding::kJson);
  p.data = value.dump();
  return p;
}

nlohmann::json PayloadToJson(const Payload& payload) {
  if (payload.encoding() == encoding::kNull) return nullptr;
  if (payload.encoding() != encoding::kJson) {
    throw PayloadError("cannot read a " + std::string(payload.encoding().empty() ? "(no encoding)" : payload.encoding()) +
                       " payload as JSON");
  }
  try {
    return nlohmann::json::parse(payload.data);
  } catch (const nlohmann::json::exception& e) {
    throw PayloadError(std::string("json/plain payload is not valid JSON: ") + e.what());
  }
}

std::string DescribePayload(const Payload& payload) {
  if (payload.encoding() == encoding::kJson || payload.encoding() == encoding::kNull) {
    try {
      return PayloadToJson(payload).dump();
    } catch (const PayloadError&) {
    }
  }
  return "<" + std::string(payload.encoding().empty() ? "no encoding" : payload.encoding()) + ", " +
         std::to_string(payload.data.size()) + " bytes>";
}

namespace detail {
void ThrowDecodeError(const Payload& payload, const char* type_name, const std::string& why) {
  // typeid names are mangled; users should read "std::string".
  int status = 0;
  char* readable = abi::__cxa_demangle(type_name, nullptr, nullptr, &status);
  const std::string type = status == 0 && readable != nullptr ? readable : type_name;
  std::free(readable);
  throw PayloadError("cannot decode " + std::string(payload.encoding().empty() ? "(no encoding)" : payload.encoding()) +
                     " payload as " + type + ": " + why);
}
}  // namespace detail

bool IsCancellation(const std::exception& e) {
  const auto* f = dynamic_cast<const Failure*>(&e);
  for (const Failure* cur = f; cur != nullptr; cur = cur->cause().get()) {
    if (dynamic_cast<const CancelledError*>(cur) != nullptr) return true;
  }
  return false;
}

}  // namespace hourglass
