// See wire.hpp.
#include "wire.hpp"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>

#include <CLI/CLI.hpp>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "common.hpp"

namespace tbmqtt::cli {
namespace {

namespace gp = google::protobuf;

class collect_errors final : public gp::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& file, int line, int column, const std::string& message) override {
    if (text.empty()) text = file + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  std::string text;
};

protobuf::field_type type_of(const gp::FieldDescriptor& f) {
  using ft = protobuf::field_type;
  switch (f.type()) {
    case gp::FieldDescriptor::TYPE_DOUBLE: return ft::double_;
    case gp::FieldDescriptor::TYPE_FLOAT: return ft::float_;
    case gp::FieldDescriptor::TYPE_INT64: return ft::int64;
    case gp::FieldDescriptor::TYPE_UINT64: return ft::uint64;
    case gp::FieldDescriptor::TYPE_INT32: return ft::int32;
    case gp::FieldDescriptor::TYPE_FIXED64: return ft::fixed64;
    case gp::FieldDescriptor::TYPE_FIXED32: return ft::fixed32;
    case gp::FieldDescriptor::TYPE_BOOL: return ft::bool_;
    case gp::FieldDescriptor::TYPE_STRING: return ft::string;
    case gp::FieldDescriptor::TYPE_MESSAGE: return ft::message;
    case gp::FieldDescriptor::TYPE_BYTES: return ft::bytes;
    case gp::FieldDescriptor::TYPE_UINT32: return ft::uint32;
    case gp::FieldDescriptor::TYPE_ENUM: return ft::enum_;
    case gp::FieldDescriptor::TYPE_SFIXED32: return ft::sfixed32;
    case gp::FieldDescriptor::TYPE_SFIXED64: return ft::sfixed64;
    case gp::FieldDescriptor::TYPE_SINT32: return ft::sint32;
    case gp::FieldDescriptor::TYPE_SINT64: return ft::sint64;
    case gp::FieldDescriptor::TYPE_GROUP: break;
  }
  fail_usage(std::string("field ") + f.full_name() + ": groups are not supported");
}

/// Every table built from the .proto files; lives until the process ends (the client refers to it).
class schema_store {
 public:
  const protobuf::message_desc* load(const std::string& path, const char* option) {
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    auto tree = std::make_unique<gp::compiler::DiskSourceTree>();
    tree->MapPath("", dir);
    auto errors = std::make_unique<collect_errors>();
    auto importer = std::make_unique<gp::compiler::Importer>(tree.get(), errors.get());
    const gp::FileDescriptor* file = importer->Import(name);
    if (file == nullptr)
      fail_usage(std::string(option) + " " + path + ": " +
                 (errors->text.empty() ? std::string("cannot be read") : errors->text));
    if (file->syntax() != gp::FileDescriptor::SYNTAX_PROTO3)
      fail_usage(std::string(option) + " " + path + ": the schema must be proto3 (as ThingsBoard's)");
    if (file->message_type_count() == 0) fail_usage(std::string(option) + " " + path + ": the schema holds no message");
    const protobuf::message_desc* m = table(*file->message_type(file->message_type_count() - 1));
    keep_.push_back({std::move(tree), std::move(errors), std::move(importer)});
    return m;
  }

 private:
  struct kept {
    std::unique_ptr<gp::compiler::DiskSourceTree> tree;
    std::unique_ptr<collect_errors> errors;
    std::unique_ptr<gp::compiler::Importer> importer;  // owns the descriptors whose names we point at
  };

  // The table of `d` (and, first, of every message type its fields use); recursion is fine:
  // a table exists before its fields are filled.
  const protobuf::message_desc* table(const gp::Descriptor& d) {
    if (auto it = tables_.find(&d); it != tables_.end()) return it->second;
    protobuf::message_desc& m = messages_.emplace_back();
    tables_[&d] = &m;
    std::vector<protobuf::field_desc>& fields = fields_.emplace_back();
    fields.reserve(static_cast<std::size_t>(d.field_count()));
    for (int i = 0; i < d.field_count(); ++i) {
      const gp::FieldDescriptor& f = *d.field(i);
      protobuf::field_desc out;
      out.name = f.name();
      out.json_name = f.json_name();
      out.number = static_cast<std::uint32_t>(f.number());
      out.type = type_of(f);
      out.repeated = f.is_repeated();
      out.presence = f.has_presence() && f.type() != gp::FieldDescriptor::TYPE_MESSAGE;  // optional, oneof
      if (out.type == protobuf::field_type::message) out.message = table(*f.message_type());
      fields.push_back(out);
    }
    m.full_name = d.full_name();
    m.fields = fields.data();
    m.field_count = fields.size();
    return &m;
  }

  std::deque<kept> keep_;
  std::map<const gp::Descriptor*, const protobuf::message_desc*> tables_;
  std::deque<protobuf::message_desc> messages_;
  std::deque<std::vector<protobuf::field_desc>> fields_;
};

schema_store& store() {
  static schema_store s;
  return s;
}

}  // namespace

void add_wire_options(CLI::App& app, wire_options& o) {
  const char* group = "Wire format";
  app.add_option("--topics", o.topics,
                 "Topic family: v1 (v1/devices/me/...), v2 (short topics v2/t, v2/a, v2/r/req/+ ...: payload as the "
                 "device profile says), v2j (/j: always JSON), v2p (/p: always protobuf)")
      ->check(CLI::IsMember({"v1", "v2", "v2j", "v2p"}))
      ->capture_default_str()
      ->group(group);
  app.add_option("--payload", o.payload,
                 "Payload format of the device profile: json or protobuf (JSON in and out for you either way)")
      ->check(CLI::IsMember({"json", "protobuf"}))
      ->capture_default_str()
      ->group(group);
  app.add_option("--proto", o.proto, "The device profile's telemetry schema (.proto; also for attributes)")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--attributes-proto", o.attributes_proto, "The profile's attributes schema (default: --proto)")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--rpc-request-proto", o.rpc_request_proto,
                 "The profile's RPC request schema (default: ThingsBoard's rpc.RpcRequestMsg)")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--rpc-response-proto", o.rpc_response_proto,
                 "The profile's RPC response schema (default: ThingsBoard's rpc.RpcResponseMsg)")
      ->type_name("FILE")
      ->group(group);
}

wire_format to_wire_format(const wire_options& o) {
  using topics::topic_style;
  wire_format w;
  w.topics = o.topics == "v2"    ? topic_style::v2
             : o.topics == "v2j" ? topic_style::v2_json
             : o.topics == "v2p" ? topic_style::v2_proto
                                 : topic_style::v1;
  w.payload = o.payload == "protobuf" ? payload_format::protobuf : payload_format::json;
  if (w.topics == topic_style::v2_json && w.payload == payload_format::protobuf)
    fail_usage("--topics v2j is always JSON: use --topics v2 or v2p with --payload protobuf");
  if (w.topics == topic_style::v2_proto) w.payload = payload_format::protobuf;
  if (!w.protobuf()) return w;
  if (o.proto.empty() && o.attributes_proto.empty())
    fail_usage("--payload protobuf needs --proto FILE (the device profile's telemetry schema)");
  if (!o.proto.empty()) w.schemas.telemetry = w.schemas.attributes = store().load(o.proto, "--proto");
  if (!o.attributes_proto.empty()) w.schemas.attributes = store().load(o.attributes_proto, "--attributes-proto");
  if (!o.rpc_request_proto.empty()) w.schemas.rpc_request = store().load(o.rpc_request_proto, "--rpc-request-proto");
  if (!o.rpc_response_proto.empty())
    w.schemas.rpc_response = store().load(o.rpc_response_proto, "--rpc-response-proto");
  return w;
}

}  // namespace tbmqtt::cli
