#pragma once

// Durations and timestamps as the API carries them, in milliseconds.

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>

namespace hourglass::devserver {

inline int64_t DurationMs(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1000000;
}
inline bool IsNegative(const google::protobuf::Duration& d) { return d.seconds() < 0 || d.nanos() < 0; }
inline google::protobuf::Duration MsToDuration(int64_t ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  return d;
}
inline google::protobuf::Timestamp MsToTimestamp(int64_t ms) {
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  return t;
}
inline int64_t TimestampMs(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

}  // namespace hourglass::devserver
