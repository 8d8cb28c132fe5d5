// tbmqtt — compile-time capacities of the core. Override with -D (or Kconfig on ESP-IDF).
#pragma once

#ifndef TBMQTT_MAX_PENDING_REQUESTS
/// Attribute requests and client-side RPCs waiting for an answer at the same time.
#define TBMQTT_MAX_PENDING_REQUESTS 16
#endif
#ifndef TBMQTT_MAX_RPC_METHODS
/// Server-side RPC methods with a registered handler.
#define TBMQTT_MAX_RPC_METHODS 16
#endif
#ifndef TBMQTT_MAX_OPEN_SERVER_RPCS
/// Server-side RPCs received and not yet answered (the app may answer later).
#define TBMQTT_MAX_OPEN_SERVER_RPCS 16
#endif
#ifndef TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS
/// Shared-attribute update subscriptions (all keys, or a key list each).
#define TBMQTT_MAX_ATTRIBUTE_SUBSCRIPTIONS 8
#endif
#ifndef TBMQTT_MAX_SUBSCRIPTIONS
/// MQTT topic filters the session keeps subscribed across reconnects.
#define TBMQTT_MAX_SUBSCRIPTIONS 12
#endif
#ifndef TBMQTT_MAX_EXTENSIONS
/// Features plugged into one session (OTA firmware, OTA software, registry, gateway, ...).
#define TBMQTT_MAX_EXTENSIONS 6
#endif
#ifndef TBMQTT_TOPIC_CAPACITY
/// Longest topic the core builds (ids included).
#define TBMQTT_TOPIC_CAPACITY 96
#endif
#ifndef TBMQTT_REQUEST_PAYLOAD_CAPACITY
/// Largest payload the core encodes itself (attribute request, RPC call, claim, error reply).
#define TBMQTT_REQUEST_PAYLOAD_CAPACITY 512
#endif
#ifndef TBMQTT_RPC_ID_CAPACITY
/// Longest server-side RPC request id kept for a later reply.
#define TBMQTT_RPC_ID_CAPACITY 16
#endif
#ifndef TBMQTT_DEFAULT_MAX_PAYLOAD
/// ThingsBoard's default max MQTT payload; larger inbound messages close the connection.
#define TBMQTT_DEFAULT_MAX_PAYLOAD 65536
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
#ifndef TBMQTT_CREDENTIAL_FIELD_CAPACITY
/// Longest stored access token, client id, user name or password (credentials_record).
#define TBMQTT_CREDENTIAL_FIELD_CAPACITY 128
#endif
#ifndef TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY
/// Longest stored X.509 certificate body (Base64) in a credentials_record.
#define TBMQTT_CREDENTIAL_CERTIFICATE_CAPACITY 2048
#endif
