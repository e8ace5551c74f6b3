#pragma once

// Payloads and the default data converter, compatible with every official
// Temporal SDK: a value travels as a Payload whose "encoding" metadata says how
// to read its bytes.
//
//   binary/null   no value (void, std::nullopt, nullptr); empty data
//   binary/plain  raw bytes (hourglass::Bytes)
//   json/plain    everything else, as JSON (nlohmann::json)
//
// User-defined types take part through nlohmann's to_json / from_json hooks
// (or NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE), found by argument-dependent lookup.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace hourglass {

namespace encoding {
inline constexpr std::string_view kNull = "binary/null";
inline constexpr std::string_view kBinary = "binary/plain";
inline constexpr std::string_view kJson = "json/plain";
}  // namespace encoding

struct Payload {
  std::map<std::string, std::string> metadata;
  std::string data;

  // The "encoding" metadata, or "" when absent.
  std::string_view encoding() const {
    auto it = metadata.find("encoding");
    return it == metadata.end() ? std::string_view() : std::string_view(it->second);
  }
  bool operator==(const Payload&) const = default;
};
using Payloads = std::vector<Payload>;

// Raw bytes, carried as binary/plain (a Uint8Array in TypeScript, []byte in Go).
struct Bytes {
  std::string data;
  bool operator==(const Bytes&) const = default;
};

// A payload could not be encoded or decoded as the requested type.
class PayloadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Payload NullPayload();
Payload BytesPayload(std::string bytes);
Payload JsonPayload(const nlohmann::json& value);
// Decodes json/plain as JSON and binary/null as JSON null; anything else is a
// PayloadError.
nlohmann::json PayloadToJson(const Payload& payload);
// Readable one-line rendering for logs and the CLI.
std::string DescribePayload(const Payload& payload);

namespace detail {
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

[[noreturn]] void ThrowDecodeError(const Payload& payload, const char* type_name, const std::string& why);

// json/plain "null": how the TypeScript SDK sends null (undefined is binary/null).
inline bool IsJsonNull(const Payload& payload) {
  if (payload.encoding() != encoding::kJson) return false;
  constexpr std::string_view kSpace = " \t\n\r";
  const std::string_view d = payload.data;
  const size_t first = d.find_first_not_of(kSpace);
  return first != std::string_view::npos && d.substr(first, d.find_last_not_of(kSpace) + 1 - first) == "null";
}
}  // namespace detail

// Types the default converter can decode (constrains templates that decode).
template <typename T>
concept PayloadDecodable =
    std::is_same_v<T, Payload> || std::is_same_v<T, Bytes> || detail::IsOptional<T>::value ||
    requires(const nlohmann::json& j) { j.template get<T>(); };

template <typename T>
Payload ToPayload(const T& value) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, Payload>) {
    return value;
  } else if constexpr (std::is_same_v<U, Bytes>) {
    return BytesPayload(value.data);
  } else if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::monostate>) {
    return NullPayload();
  } else if constexpr (detail::IsOptional<U>::value) {
    return value ? ToPayload(*value) : NullPayload();
  } else {
    try {
      return JsonPayload(nlohmann::json(value));
    } catch (const nlohmann::json::exception& e) {
      throw PayloadError(std::string("cannot encode value as json/plain: ") + e.what());
    }
  }
}

template <typename T>
T FromPayload(const Payload& payload) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, Payload>) {
    return payload;
  } else if constexpr (std::is_same_v<U, Bytes>) {
    if (payload.encoding() != encoding::kBinary) {
      detail::ThrowDecodeError(payload, "hourglass::Bytes", "expected binary/plain");
    }
    return Bytes{payload.data};
  } else if constexpr (detail::IsOptional<U>::value) {
    if (payload.encoding() == encoding::kNull || detail::IsJsonNull(payload)) return std::nullopt;
    return FromPayload<typename U::value_type>(payload);
  } else if constexpr (std::is_same_v<U, nlohmann::json>) {
    return PayloadToJson(payload);
  } else {
    if (payload.encoding() != encoding::kJson) {
      detail::ThrowDecodeError(payload, typeid(U).name(), "expected json/plain");
    }
    try {
      return nlohmann::json::parse(payload.data).template get<U>();
    } catch (const nlohmann::json::exception& e) {
      detail::ThrowDecodeError(payload, typeid(U).name(), e.what());
    }
  }
}

// Arguments: each argument is one payload, in order.
template <typename... Args>
Payloads ToPayloads(const Args&... args) {
  Payloads out;
  out.reserve(sizeof...(Args));
  (out.push_back(ToPayload(args)), ...);
  return out;
}

// Decodes payloads into a tuple of argument types. A missing trailing argument
// decodes as binary/null (so std::optional parameters may be omitted); extra
// payloads are ignored, as the official SDKs do.
template <typename Tuple>
Tuple FromPayloads(const Payloads& payloads) {
  return [&]<size_t... I>(std::index_sequence<I...>) {
    auto at = [&](size_t i) { return i < payloads.size() ? payloads[i] : NullPayload(); };
    (void)at;  // unused when there are no arguments
    return Tuple(FromPayload<std::tuple_element_t<I, Tuple>>(at(I))...);
  }(std::make_index_sequence<std::tuple_size_v<Tuple>>());
}

}  // namespace hourglass
