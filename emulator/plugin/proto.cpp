// See proto.hpp.
#include "proto.hpp"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>

#include <map>
#include <stdexcept>

namespace tbmqtt_emulator::pb {

namespace gp = google::protobuf;

namespace {

constexpr const char* file_name = "profile.proto";

/// One in-memory file for the importer.
class text_tree : public gp::compiler::SourceTree {
public:
    explicit text_tree(std::string text) : text_(std::move(text)) {}
    gp::io::ZeroCopyInputStream* Open(const std::string& name) override {
        if (name != file_name) return nullptr;
        return new gp::io::ArrayInputStream(text_.data(), static_cast<int>(text_.size()));
    }

private:
    std::string text_;
};

class collect_errors : public gp::compiler::MultiFileErrorCollector {
public:
    void AddError(const std::string&, int line, int column, const std::string& message) override {
        if (text.empty()) text = "line " + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
    std::string text;
};

}  // namespace

class schema {
public:
    explicit schema(std::string text) : tree_(std::move(text)), importer_(&tree_, &errors_) {}

    bool build(std::string& error, const std::string& message) {
        const gp::FileDescriptor* f = importer_.Import(file_name);
        if (f == nullptr) {
            error = errors_.text.empty() ? "the schema does not compile" : errors_.text;
            return false;
        }
        if (f->syntax() != gp::FileDescriptor::SYNTAX_PROTO3) {
            error = "the schema must be proto3 (syntax = \"proto3\";)";
            return false;
        }
        if (f->message_type_count() == 0) {
            error = "the schema holds no message";
            return false;
        }
        if (message.empty()) {
            desc_ = f->message_type(f->message_type_count() - 1);
        } else {
            desc_ = f->FindMessageTypeByName(message);
            if (desc_ == nullptr) {
                error = "no message " + message;
                return false;
            }
        }
        prototype_ = factory_.GetPrototype(desc_);
        return true;
    }

    const gp::Descriptor* desc_ = nullptr;
    const gp::Message* prototype_ = nullptr;

private:
    text_tree tree_;
    collect_errors errors_;
    gp::compiler::Importer importer_;
    gp::DynamicMessageFactory factory_;
};

std::shared_ptr<const schema> compile(const std::string& proto_text, std::string& error) {
    auto s = std::make_shared<schema>(proto_text);
    if (!s->build(error, "")) return nullptr;
    return s;
}

std::string message_name(const schema& s) { return s.desc_->full_name(); }

std::optional<std::string> to_json(const schema& s, const std::string& bytes) {
    std::unique_ptr<gp::Message> m(s.prototype_->New());
    if (!m->ParseFromString(bytes)) return std::nullopt;
    gp::util::JsonPrintOptions o;
    o.always_print_primitive_fields = true;  // includingDefaultValueFields()
    std::string out;
    if (!gp::util::MessageToJsonString(*m, &out, o).ok()) return std::nullopt;
    return out;
}

std::optional<std::string> from_json(const schema& s, const std::string& json_text, std::string& error) {
    std::unique_ptr<gp::Message> m(s.prototype_->New());
    gp::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;  // ignoringUnknownFields()
    const auto st = gp::util::JsonStringToMessage(json_text, m.get(), o);
    if (!st.ok()) {
        error = std::string(st.message());
        return std::nullopt;
    }
    return m->SerializeAsString();
}

// transport.proto (package transportapi) and queue.proto (package transport) of ThingsBoard, the
// messages the MQTT transport's ProtoMqttAdaptor reads and writes with fixed schemas: the text of
// emulator/plugin/transport.proto, embedded at build time.
constexpr const char* transport_proto =
#include "transport_proto.inc"
    ;

const schema& transport(const std::string& name) {
    static std::map<std::string, std::unique_ptr<schema>> cache;
    auto it = cache.find(name);
    if (it != cache.end()) return *it->second;
    auto s = std::make_unique<schema>(transport_proto);
    std::string error;
    if (!s->build(error, name)) throw std::logic_error("transport proto: " + error);
    return *cache.emplace(name, std::move(s)).first->second;
}

}  // namespace tbmqtt_emulator::pb
