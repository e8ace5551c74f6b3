// docs/ipc-protocol.md must describe every request, reply, event, error kind,
// control message and control-socket request the .proto files define.

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "hourglass/ipc/v1/control.pb.h"
#include "hourglass/ipc/v1/ctl.pb.h"
#include "hourglass/ipc/v1/ipc.pb.h"

namespace hourglass::ipc {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;

std::string ReadDoc() {
  std::ifstream in(HOURGLASS_SOURCE_DIR "/docs/ipc-protocol.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ExpectMentioned(const std::string& doc, const std::string& name, const std::string& what) {
  EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
      << what << " `" << name << "` is not described in docs/ipc-protocol.md";
}

// Every field of the message's oneofs, by field name and by message type.
void ExpectOneofsMentioned(const std::string& doc, const Descriptor* d) {
  for (int o = 0; o < d->oneof_decl_count(); ++o) {
    const auto* oneof = d->oneof_decl(o);
    for (int f = 0; f < oneof->field_count(); ++f) {
      const auto* field = oneof->field(f);
      ExpectMentioned(doc, field->name(), d->name() + " field");
      if (field->message_type() != nullptr) {
        ExpectMentioned(doc, field->message_type()->name(), d->name() + " message");
      }
    }
  }
}

void ExpectEnumMentioned(const std::string& doc, const EnumDescriptor* e, bool full_names) {
  for (int i = 0; i < e->value_count(); ++i) {
    std::string name = e->value(i)->name();
    if (!full_names && name.find("UNSPECIFIED") != std::string::npos) continue;
    ExpectMentioned(doc, name, e->name() + " value");
  }
}

TEST(ProtocolDoc, DescribesEveryRequestReplyAndEvent) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty());
  ExpectOneofsMentioned(doc, v1::Request::descriptor());
  ExpectOneofsMentioned(doc, v1::Response::descriptor());
  ExpectOneofsMentioned(doc, v1::Event::descriptor());
}

TEST(ProtocolDoc, DescribesEveryErrorKindAndRole) {
  const std::string doc = ReadDoc();
  ExpectEnumMentioned(doc, v1::ErrorKind_descriptor(), /*full_names=*/true);
  ExpectEnumMentioned(doc, v1::Role_descriptor(), /*full_names=*/false);
  ExpectEnumMentioned(doc, v1::ProtocolVersion_descriptor(), /*full_names=*/false);
}

TEST(ProtocolDoc, DescribesEveryControlMessage) {
  const std::string doc = ReadDoc();
  ExpectOneofsMentioned(doc, v1::ControlMessage::descriptor());
  ExpectEnumMentioned(doc, v1::FailpointCommand::Op_descriptor(), /*full_names=*/false);
  for (const char* state : {"STARTING", "POLLING", "BACKING_OFF", "STOPPED"}) {
    ExpectMentioned(doc, state, "PollLoopState");
  }
}

// The control socket (`hourglass ctl`): every request and reply with its
// message, the reply's `error`, and every error kind by its full name (the
// section names them that way to keep them apart from ErrorKind's).
TEST(ProtocolDoc, DescribesEveryCtlRequestAndReply) {
  const std::string doc = ReadDoc();
  ASSERT_NE(doc.find("## The control socket (`hourglass ctl`)"), std::string::npos);
  ExpectOneofsMentioned(doc, v1::CtlRequest::descriptor());
  ExpectOneofsMentioned(doc, v1::CtlReply::descriptor());
  const auto* error =
      v1::CtlReply::descriptor()->FindFieldByNumber(v1::CtlReply::kErrorFieldNumber);
  ASSERT_NE(error, nullptr);
  ExpectMentioned(doc, error->name(), "CtlReply field");
  ExpectMentioned(doc, error->message_type()->name(), "CtlReply message");
  ExpectEnumMentioned(doc, v1::CtlErrorKind_descriptor(), /*full_names=*/true);
}

TEST(ProtocolDoc, DescribesEveryWorkerOption) {
  const std::string doc = ReadDoc();
  const auto* d = v1::WorkerOptions::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    ExpectMentioned(doc, d->field(i)->name(), "WorkerOptions field");
  }
}

}  // namespace
}  // namespace hourglass::ipc
