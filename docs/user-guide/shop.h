#pragma once

// The user guide's running example: an online shop's orders. docs/user-guide.md
// shows the regions between [START name] and [END name]; the user_guide_doc
// test checks that it shows them verbatim.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// [START user-types]
namespace shop {

// Each member becomes a JSON field of the same name:
// {"id": "o-1", "customer": "ada@example.com", "items": ["tea"], "amount_cents": 450}
struct Order {
  std::string id;
  std::string customer;
  std::vector<std::string> items;
  int64_t amount_cents = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, id, customer, items, amount_cents)

// Hand-written to_json / from_json (found by argument-dependent lookup): for
// field names of your choosing (here the camelCase a TypeScript caller
// expects), optional fields, or more than one version of a type.
struct Receipt {
  std::string order_id;
  std::string charge_id;
  std::optional<std::string> tracking_number;
};
inline void to_json(nlohmann::json& j, const Receipt& r) {
  j = {{"orderId", r.order_id}, {"chargeId", r.charge_id}};
  if (r.tracking_number) j["trackingNumber"] = *r.tracking_number;
}
inline void from_json(const nlohmann::json& j, Receipt& r) {
  j.at("orderId").get_to(r.order_id);
  j.at("chargeId").get_to(r.charge_id);
  if (auto it = j.find("trackingNumber"); it != j.end()) r.tracking_number = it->get<std::string>();
}

}  // namespace shop
// [END user-types]
