// tbmqtt — every compile-time limit of the SDK in one place: the core's capacities, the
// features' buffers and the ESP-IDF client's defaults. Each is `#ifndef` and can be overridden
// with -D. On ESP-IDF each also comes from Kconfig (menuconfig "tbmqtt"): CONFIG_TBMQTT_<NAME>
// from sdkconfig.h becomes TBMQTT_<NAME> here (the mapping below), unless -D gave it already.
// No OS header: this compiles for a bare Cortex-M too.
#pragma once

// ---- Kconfig (ESP-IDF) -> TBMQTT_* ------------------------------------------------------------
#if defined(__has_include)
#if __has_include("sdkconfig.h")
#include "sdkconfig.h"
#endif
#endif
#if !defined(TBMQTT_MAX_PENDING_REQUESTS) && defined(CONFIG_TBMQTT_MAX_PENDING_REQUESTS)
#define TBMQTT_MAX_PENDING_REQUESTS CONFIG_TBMQTT_MAX_PENDING_REQUESTS
#endif
#if !defined(TBMQTT_MAX_RPC_METHODS) && defined(CONFIG_TBMQTT_MAX_RPC_METHODS)
#define TBMQTT_MAX_RPC_METHODS CONFIG_TBMQTT_MAX_RPC_METHODS
#endif
#if !defined(TBMQTT_MAX_OPEN_SERVER_RPCS) && defined(CONFIG_TBMQTT_MAX_OPEN_SERVER_RPCS)
#define TBMQTT_MAX_OPEN_SERVER_RPCS CONFIG_TBMQTT_MAX_OPEN_SERVER_RPCS
#endif
#if !defined(TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS) && defined(CONFIG_TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS)
#define TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS CONFIG_TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS
#endif
#if !defined(TBMQTT_MAX_SUBSCRIPTIONS) && defined(CONFIG_TBMQTT_MAX_SUBSCRIPTIONS)
#define TBMQTT_MAX_SUBSCRIPTIONS CONFIG_TBMQTT_MAX_SUBSCRIPTIONS
#endif
#if !defined(TBMQTT_TOPIC_CAPACITY) && defined(CONFIG_TBMQTT_TOPIC_CAPACITY)
#define TBMQTT_TOPIC_CAPACITY CONFIG_TBMQTT_TOPIC_CAPACITY
#endif
#if !defined(TBMQTT_REQUEST_PAYLOAD_CAPACITY) && defined(CONFIG_TBMQTT_REQUEST_PAYLOAD_CAPACITY)
#define TBMQTT_REQUEST_PAYLOAD_CAPACITY CONFIG_TBMQTT_REQUEST_PAYLOAD_CAPACITY
#endif
#if !defined(TBMQTT_MAX_IN_FLIGHT) && defined(CONFIG_TBMQTT_MAX_IN_FLIGHT)
#define TBMQTT_MAX_IN_FLIGHT CONFIG_TBMQTT_MAX_IN_FLIGHT
#endif
#if !defined(TBMQTT_PROTOBUF_PAYLOAD_CAPACITY) && defined(CONFIG_TBMQTT_PROTOBUF_PAYLOAD_CAPACITY)
#define TBMQTT_PROTOBUF_PAYLOAD_CAPACITY CONFIG_TBMQTT_PROTOBUF_PAYLOAD_CAPACITY
#endif
#if !defined(TBMQTT_PROTOBUF_JSON_CAPACITY) && defined(CONFIG_TBMQTT_PROTOBUF_JSON_CAPACITY)
#define TBMQTT_PROTOBUF_JSON_CAPACITY CONFIG_TBMQTT_PROTOBUF_JSON_CAPACITY
#endif
#if !defined(TBMQTT_GATEWAY_MAX_DEVICES) && defined(CONFIG_TBMQTT_GATEWAY_MAX_DEVICES)
#define TBMQTT_GATEWAY_MAX_DEVICES CONFIG_TBMQTT_GATEWAY_MAX_DEVICES
#endif
#if !defined(TBMQTT_GATEWAY_PAYLOAD_CAPACITY) && defined(CONFIG_TBMQTT_GATEWAY_PAYLOAD_CAPACITY)
#define TBMQTT_GATEWAY_PAYLOAD_CAPACITY CONFIG_TBMQTT_GATEWAY_PAYLOAD_CAPACITY
#endif
#if !defined(TBMQTT_DEFAULT_MAX_PAYLOAD) && defined(CONFIG_TBMQTT_DEFAULT_MAX_PAYLOAD)
#define TBMQTT_DEFAULT_MAX_PAYLOAD CONFIG_TBMQTT_DEFAULT_MAX_PAYLOAD
#endif
#if !defined(TBMQTT_CREDENTIAL_FIELD_CAPACITY) && defined(CONFIG_TBMQTT_CREDENTIAL_FIELD_CAPACITY)
#define TBMQTT_CREDENTIAL_FIELD_CAPACITY CONFIG_TBMQTT_CREDENTIAL_FIELD_CAPACITY
#endif
#if !defined(TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY) && defined(CONFIG_TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY)
#define TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY CONFIG_TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY
#endif
#if !defined(TBMQTT_OTA_CHUNK_SIZE) && defined(CONFIG_TBMQTT_OTA_CHUNK_SIZE)
#define TBMQTT_OTA_CHUNK_SIZE CONFIG_TBMQTT_OTA_CHUNK_SIZE
#endif
#if !defined(TBMQTT_OTA_WINDOW) && defined(CONFIG_TBMQTT_OTA_WINDOW)
#define TBMQTT_OTA_WINDOW CONFIG_TBMQTT_OTA_WINDOW
#endif
#if !defined(TBMQTT_OTA_CHUNK_TIMEOUT_MS) && defined(CONFIG_TBMQTT_OTA_CHUNK_TIMEOUT_MS)
#define TBMQTT_OTA_CHUNK_TIMEOUT_MS CONFIG_TBMQTT_OTA_CHUNK_TIMEOUT_MS
#endif
#if !defined(TBMQTT_ESP_MQTT_BUFFER_SIZE) && defined(CONFIG_TBMQTT_MQTT_BUFFER_SIZE)
#define TBMQTT_ESP_MQTT_BUFFER_SIZE CONFIG_TBMQTT_MQTT_BUFFER_SIZE
#endif
#if !defined(TBMQTT_ESP_REASSEMBLY_SIZE) && defined(CONFIG_TBMQTT_REASSEMBLY_BUFFER_SIZE)
#define TBMQTT_ESP_REASSEMBLY_SIZE CONFIG_TBMQTT_REASSEMBLY_BUFFER_SIZE
#endif
#if !defined(TBMQTT_ESP_EVENT_QUEUE_DEPTH) && defined(CONFIG_TBMQTT_EVENT_QUEUE_DEPTH)
#define TBMQTT_ESP_EVENT_QUEUE_DEPTH CONFIG_TBMQTT_EVENT_QUEUE_DEPTH
#endif
#if !defined(TBMQTT_ESP_EVENT_RING_SIZE) && defined(CONFIG_TBMQTT_EVENT_RING_SIZE)
#define TBMQTT_ESP_EVENT_RING_SIZE CONFIG_TBMQTT_EVENT_RING_SIZE
#endif
#if !defined(TBMQTT_ESP_REQUEST_TIMEOUT_MS) && defined(CONFIG_TBMQTT_REQUEST_TIMEOUT_MS)
#define TBMQTT_ESP_REQUEST_TIMEOUT_MS CONFIG_TBMQTT_REQUEST_TIMEOUT_MS
#endif
#if !defined(TBMQTT_ESP_KEEPALIVE_S) && defined(CONFIG_TBMQTT_KEEPALIVE_S)
#define TBMQTT_ESP_KEEPALIVE_S CONFIG_TBMQTT_KEEPALIVE_S
#endif
#if !defined(TBMQTT_ESP_RECONNECT_TIMEOUT_MS) && defined(CONFIG_TBMQTT_RECONNECT_TIMEOUT_MS)
#define TBMQTT_ESP_RECONNECT_TIMEOUT_MS CONFIG_TBMQTT_RECONNECT_TIMEOUT_MS
#endif
#if !defined(TBMQTT_ESP_TASK_STACK) && defined(CONFIG_TBMQTT_TASK_STACK)
#define TBMQTT_ESP_TASK_STACK CONFIG_TBMQTT_TASK_STACK
#endif
#if !defined(TBMQTT_ESP_TASK_PRIORITY) && defined(CONFIG_TBMQTT_TASK_PRIORITY)
#define TBMQTT_ESP_TASK_PRIORITY CONFIG_TBMQTT_TASK_PRIORITY
#endif
#if !defined(TBMQTT_ESP_NETWORK_TIMEOUT_MS) && defined(CONFIG_TBMQTT_NETWORK_TIMEOUT_MS)
#define TBMQTT_ESP_NETWORK_TIMEOUT_MS CONFIG_TBMQTT_NETWORK_TIMEOUT_MS
#endif
#if !defined(TBMQTT_ESP_LOG_LEVEL) && defined(CONFIG_TBMQTT_LOG_LEVEL)
#define TBMQTT_ESP_LOG_LEVEL CONFIG_TBMQTT_LOG_LEVEL
#endif
#if !defined(TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY) && defined(CONFIG_TBMQTT_PROVISION_RESPONSE_SIZE)
#define TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY CONFIG_TBMQTT_PROVISION_RESPONSE_SIZE
#endif
// menuconfig "Mark a new image valid only after it has connected to ThingsBoard". A bool that is
// off is absent from sdkconfig.h, so Kconfig's presence is told by another tbmqtt option.
#ifndef TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT
#if defined(CONFIG_TBMQTT_OTA_MARK_VALID_AFTER_CONNECT)
#define TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT 1
#elif defined(CONFIG_TBMQTT_OTA_CHUNK_SIZE)
#define TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT 0
#endif
#endif

// menuconfig "Protobuf payloads": off in sdkconfig.h means absent, as above.
#ifndef TBMQTT_WIRE_PROTOBUF
#if defined(CONFIG_TBMQTT_WIRE_PROTOBUF)
#define TBMQTT_WIRE_PROTOBUF 1
#elif defined(CONFIG_TBMQTT_OTA_CHUNK_SIZE)
#define TBMQTT_WIRE_PROTOBUF 0
#endif
#endif

// ---- the core -----------------------------------------------------------------------------------
#ifndef TBMQTT_MAX_PENDING_REQUESTS
/// Attribute requests and client-side RPCs waiting for an answer at the same time.
/// Kconfig: CONFIG_TBMQTT_MAX_PENDING_REQUESTS.
#define TBMQTT_MAX_PENDING_REQUESTS 16
#endif
#ifndef TBMQTT_MAX_RPC_METHODS
/// Server-side RPC methods with a registered handler.
/// Kconfig: CONFIG_TBMQTT_MAX_RPC_METHODS.
#define TBMQTT_MAX_RPC_METHODS 16
#endif
#ifndef TBMQTT_MAX_OPEN_SERVER_RPCS
/// Server-side RPCs received and not yet answered (the app may answer later).
/// Kconfig: CONFIG_TBMQTT_MAX_OPEN_SERVER_RPCS.
#define TBMQTT_MAX_OPEN_SERVER_RPCS 16
#endif
#ifndef TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS
/// Shared-attribute update subscriptions (all keys, or a key list each).
/// Kconfig: CONFIG_TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS.
#define TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS 8
#endif
#ifndef TBMQTT_MAX_SUBSCRIPTIONS
/// MQTT topic filters the session keeps subscribed across reconnects.
/// Kconfig: CONFIG_TBMQTT_MAX_SUBSCRIPTIONS.
#define TBMQTT_MAX_SUBSCRIPTIONS 12
#endif
#ifndef TBMQTT_MAX_EXTENSIONS
/// Features plugged into one session (OTA firmware, OTA software, registry, gateway, ...).
#define TBMQTT_MAX_EXTENSIONS 6
#endif
#ifndef TBMQTT_TOPIC_CAPACITY
/// Longest topic the core builds (ids included).
/// Kconfig: CONFIG_TBMQTT_TOPIC_CAPACITY.
#define TBMQTT_TOPIC_CAPACITY 96
#endif
#ifndef TBMQTT_REQUEST_PAYLOAD_CAPACITY
/// Largest payload the core encodes itself (attribute request, RPC call, claim, error reply).
/// Kconfig: CONFIG_TBMQTT_REQUEST_PAYLOAD_CAPACITY.
#define TBMQTT_REQUEST_PAYLOAD_CAPACITY 512
#endif
#ifndef TBMQTT_MAX_IN_FLIGHT
/// Messages sent directly (not through an offline queue) that a session tracks until their
/// outcome, with its own memory; session::set_delivery_slots gives it more.
/// Kconfig: CONFIG_TBMQTT_MAX_IN_FLIGHT.
#define TBMQTT_MAX_IN_FLIGHT 32
#endif
#ifndef TBMQTT_RPC_ID_CAPACITY
/// Longest server-side RPC request id kept for a later reply.
#define TBMQTT_RPC_ID_CAPACITY 16
#endif
#ifndef TBMQTT_RPC_METHOD_CAPACITY
/// Longest server-side RPC method name unescaped into a stack buffer (bytes); a longer escaped
/// name is handed on as its raw JSON text.
#define TBMQTT_RPC_METHOD_CAPACITY 64
#endif
#ifndef TBMQTT_DEFAULT_MAX_PAYLOAD
/// ThingsBoard's default max MQTT payload; larger inbound messages close the connection.
/// Kconfig: CONFIG_TBMQTT_DEFAULT_MAX_PAYLOAD.
#define TBMQTT_DEFAULT_MAX_PAYLOAD 65536
#endif
#ifndef TBMQTT_CREDENTIAL_FIELD_CAPACITY
/// Longest stored access token, client id, user name or password (tbmqtt::credentials).
/// Kconfig: CONFIG_TBMQTT_CREDENTIAL_FIELD_CAPACITY.
#define TBMQTT_CREDENTIAL_FIELD_CAPACITY 128
#endif
#ifndef TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY
/// Longest stored X.509 certificate body (Base64) in tbmqtt::credentials.
/// Kconfig: CONFIG_TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY.
#define TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY 2048
#endif
#ifndef TBMQTT_JSON_SMALL_FLOAT
/// 1: doubles are written with snprintf("%.15g"/"%.17g") and read with strtod (about 10 KB of
/// flash with picolibc) instead of std::to_chars/from_chars (shortest form, about 180 KB on
/// Cortex-M). Default: 1 on bare-metal ARM and ESP-IDF, 0 elsewhere.
#if (defined(__arm__) && !defined(__linux__)) || defined(ESP_PLATFORM)
#define TBMQTT_JSON_SMALL_FLOAT 1
#else
#define TBMQTT_JSON_SMALL_FLOAT 0
#endif
#endif
#ifndef TBMQTT_JSON_MAX_DEPTH
/// Deepest nesting of arrays/objects the JSON reader accepts and the writer can produce.
#define TBMQTT_JSON_MAX_DEPTH 32
#endif
#ifndef TBMQTT_WIRE_PROTOBUF
/// 1: sessions can speak protobuf (wire_format::payload, the `/p` topics; src/core/protobuf.cpp is
/// linked, about 8 KB of Cortex-M code). 0: JSON only — a protobuf wire format then fails every send
/// with errc::invalid_argument and every inbound message with errc::malformed, and a JSON-only app
/// links no protobuf code. Kconfig: CONFIG_TBMQTT_WIRE_PROTOBUF.
#define TBMQTT_WIRE_PROTOBUF 1
#endif
#ifndef TBMQTT_PROTOBUF_MAX_DEPTH
/// Deepest nesting of messages (and groups) the protobuf codec follows; deeper input is errc::malformed.
#define TBMQTT_PROTOBUF_MAX_DEPTH 8
#endif
#ifndef TBMQTT_PROTOBUF_PAYLOAD_CAPACITY
/// Largest protobuf payload the session encodes from JSON (bytes; a stack buffer on the publish path).
/// Kconfig: CONFIG_TBMQTT_PROTOBUF_PAYLOAD_CAPACITY.
#define TBMQTT_PROTOBUF_PAYLOAD_CAPACITY 512
#endif
#ifndef TBMQTT_PROTOBUF_JSON_CAPACITY
/// Largest JSON text an inbound protobuf message decodes to (bytes; a stack buffer while it is handled).
/// Kconfig: CONFIG_TBMQTT_PROTOBUF_JSON_CAPACITY.
#define TBMQTT_PROTOBUF_JSON_CAPACITY 1024
#endif
#ifndef TBMQTT_MAX_RATE_RULES
/// Rules per rate limit ("10:1,300:60" is two).
#define TBMQTT_MAX_RATE_RULES 4
#endif

// ---- features (registry, gateway, OTA) ---------------------------------------------------------
#ifndef TBMQTT_REGISTRY_PAYLOAD_CAPACITY
/// Default size of the buffer a registry builds telemetry and attribute messages in.
#define TBMQTT_REGISTRY_PAYLOAD_CAPACITY 512
#endif
#ifndef TBMQTT_REGISTRY_TEXT_CAPACITY
/// Longest string attribute value (after unescaping) handed to a registry "set" callback.
#define TBMQTT_REGISTRY_TEXT_CAPACITY 128
#endif
#ifndef TBMQTT_GATEWAY_NAME_CAPACITY
/// Longest sub-device name (and device type) a gateway keeps, in bytes after unescaping.
#define TBMQTT_GATEWAY_NAME_CAPACITY 64
#endif
#ifndef TBMQTT_GATEWAY_MAX_DEVICES
/// Default number of sub-devices a tbmqtt::gateway<> keeps connected, and esp_client::gateway()'s
/// (client::gateway() on Linux keeps 255). Kconfig: CONFIG_TBMQTT_GATEWAY_MAX_DEVICES.
#define TBMQTT_GATEWAY_MAX_DEVICES 8
#endif
#ifndef TBMQTT_GATEWAY_PAYLOAD_CAPACITY
/// Default size of the buffer a gateway builds its messages in (telemetry for one device given
/// as text, RPC replies, ...), and esp_client::gateway()'s (client::gateway() on Linux builds up
/// to TBMQTT_DEFAULT_MAX_PAYLOAD). Kconfig: CONFIG_TBMQTT_GATEWAY_PAYLOAD_CAPACITY.
#define TBMQTT_GATEWAY_PAYLOAD_CAPACITY 1024
#endif
#ifndef TBMQTT_GATEWAY_ERROR_TEXT_CAPACITY
/// Longest error text a gateway puts into an RPC error reply (bytes; longer text is cut).
#define TBMQTT_GATEWAY_ERROR_TEXT_CAPACITY 128
#endif
#ifndef TBMQTT_GATEWAY_MAX_PENDING_REQUESTS
/// Sub-device attribute requests waiting for an answer at the same time.
#define TBMQTT_GATEWAY_MAX_PENDING_REQUESTS 8
#endif
#ifndef TBMQTT_GATEWAY_MAX_OPEN_RPCS
/// Sub-device RPCs received and not yet answered.
#define TBMQTT_GATEWAY_MAX_OPEN_RPCS 8
#endif
#ifndef TBMQTT_OTA_TEXT_CAPACITY
/// Longest OTA package title or version kept.
#define TBMQTT_OTA_TEXT_CAPACITY 64
#endif
#ifndef TBMQTT_OTA_MAX_WINDOW
/// Most OTA chunk requests in flight at once.
#define TBMQTT_OTA_MAX_WINDOW 32
#endif
#ifndef TBMQTT_OTA_CHUNK_SIZE
/// Default of ota_config::chunk_size.
/// Kconfig: CONFIG_TBMQTT_OTA_CHUNK_SIZE.
#define TBMQTT_OTA_CHUNK_SIZE 16384
#endif
#ifndef TBMQTT_OTA_WINDOW
/// Default of ota_config::window.
/// Kconfig: CONFIG_TBMQTT_OTA_WINDOW.
#define TBMQTT_OTA_WINDOW 16
#endif
#ifndef TBMQTT_OTA_CHUNK_TIMEOUT_MS
/// Default of ota_config::chunk_timeout_ms.
/// Kconfig: CONFIG_TBMQTT_OTA_CHUNK_TIMEOUT_MS.
#define TBMQTT_OTA_CHUNK_TIMEOUT_MS 5000
#endif

// ---- the ESP-IDF client (tbmqtt/esp_idf/*.hpp) ---------------------------------------------------
#ifndef TBMQTT_ESP_MQTT_BUFFER_SIZE
/// esp-mqtt in/out buffer (bytes); larger inbound messages arrive in fragments.
/// Kconfig: CONFIG_TBMQTT_MQTT_BUFFER_SIZE.
#define TBMQTT_ESP_MQTT_BUFFER_SIZE 1024
#endif
#ifndef TBMQTT_ESP_REASSEMBLY_SIZE
/// Largest fragmented inbound message reassembled (bytes).
/// Kconfig: CONFIG_TBMQTT_REASSEMBLY_BUFFER_SIZE.
#define TBMQTT_ESP_REASSEMBLY_SIZE 4096
#endif
#ifndef TBMQTT_ESP_EVENT_QUEUE_DEPTH
/// esp-mqtt events waiting for the tbmqtt task.
/// Kconfig: CONFIG_TBMQTT_EVENT_QUEUE_DEPTH.
#define TBMQTT_ESP_EVENT_QUEUE_DEPTH 16
#endif
#ifndef TBMQTT_ESP_EVENT_RING_SIZE
/// Bytes of waiting inbound fragments (at least the esp-mqtt buffer plus a topic).
/// Kconfig: CONFIG_TBMQTT_EVENT_RING_SIZE.
#define TBMQTT_ESP_EVENT_RING_SIZE 4096
#endif
#ifndef TBMQTT_ESP_REQUEST_TIMEOUT_MS
/// Attribute request / client RPC time-out (ms).
/// Kconfig: CONFIG_TBMQTT_REQUEST_TIMEOUT_MS.
#define TBMQTT_ESP_REQUEST_TIMEOUT_MS 10000
#endif
#ifndef TBMQTT_ESP_KEEPALIVE_S
/// MQTT keep-alive (seconds).
/// Kconfig: CONFIG_TBMQTT_KEEPALIVE_S.
#define TBMQTT_ESP_KEEPALIVE_S 60
#endif
#ifndef TBMQTT_ESP_RECONNECT_TIMEOUT_MS
/// Default reconnect delay of esp_client_options (reconnect_min and reconnect_max, ms).
/// Kconfig: CONFIG_TBMQTT_RECONNECT_TIMEOUT_MS.
#define TBMQTT_ESP_RECONNECT_TIMEOUT_MS 5000
#endif
#ifndef TBMQTT_ESP_TASK_STACK
/// Stack of the tbmqtt and esp-mqtt tasks (bytes).
/// Kconfig: CONFIG_TBMQTT_TASK_STACK.
#define TBMQTT_ESP_TASK_STACK 6144
#endif
#ifndef TBMQTT_ESP_TASK_PRIORITY
/// Priority of the tbmqtt and esp-mqtt tasks.
/// Kconfig: CONFIG_TBMQTT_TASK_PRIORITY.
#define TBMQTT_ESP_TASK_PRIORITY 5
#endif
#ifndef TBMQTT_ESP_NETWORK_TIMEOUT_MS
/// esp-mqtt network operation time-out (ms).
/// Kconfig: CONFIG_TBMQTT_NETWORK_TIMEOUT_MS.
#define TBMQTT_ESP_NETWORK_TIMEOUT_MS 10000
#endif
#ifndef TBMQTT_ESP_LOG_LEVEL
/// Log level of the SDK (0 none .. 5 verbose).
/// Kconfig: CONFIG_TBMQTT_LOG_LEVEL.
#define TBMQTT_ESP_LOG_LEVEL 3
#endif
#ifndef TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY
/// Largest /provision/response accepted (an X.509 answer carries the certificate).
/// Kconfig: CONFIG_TBMQTT_PROVISION_RESPONSE_SIZE.
#define TBMQTT_ESP_PROVISION_RESPONSE_CAPACITY 4096
#endif
#ifndef TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT
/// 1: esp_ota_sink marks a new image valid only after it connected to ThingsBoard. Kconfig:
/// CONFIG_TBMQTT_OTA_MARK_VALID_AFTER_CONNECT.
#define TBMQTT_ESP_OTA_MARK_VALID_AFTER_CONNECT 1
#endif
