# tbmqtt — settings of the ESP-IDF component (included from the root CMakeLists.txt when
# ESP_PLATFORM is set, after idf_component_register). Kconfig (menuconfig "tbmqtt") values
# become the core's compile-time limits (include/tbmqtt/config.hpp); the ESP-IDF client reads
# its defaults from sdkconfig.h itself (include/tbmqtt/esp_client.hpp).

# IDF v4.4 compiles C++ as gnu++11 by default; the SDK and its public headers need C++17.
# IDF 5.x defaults to a newer standard, which is kept.
if(DEFINED IDF_VERSION_MAJOR AND IDF_VERSION_MAJOR LESS 5)
  target_compile_options(${COMPONENT_LIB} PUBLIC $<$<COMPILE_LANGUAGE:CXX>:-std=gnu++17>)
endif()

# tests/esp_idf/check.sh checks that every Kconfig option is named here or in the sources.
foreach(limit MAX_PENDING_REQUESTS MAX_RPC_METHODS MAX_OPEN_SERVER_RPCS MAX_ATTRIBUTE_SUBSCRIPTIONS
              MAX_SUBSCRIPTIONS TOPIC_CAPACITY REQUEST_PAYLOAD_CAPACITY DEFAULT_MAX_PAYLOAD
              OTA_CHUNK_SIZE OTA_WINDOW OTA_CHUNK_TIMEOUT_MS
              CREDENTIAL_FIELD_CAPACITY CREDENTIAL_CERTIFICATE_CAPACITY)
  if(DEFINED CONFIG_TBMQTT_${limit})
    target_compile_definitions(${COMPONENT_LIB} PUBLIC TBMQTT_${limit}=${CONFIG_TBMQTT_${limit}})
  endif()
endforeach()

if(DEFINED CONFIG_TBMQTT_LOG_LEVEL)
  target_compile_definitions(${COMPONENT_LIB} PRIVATE LOG_LOCAL_LEVEL=${CONFIG_TBMQTT_LOG_LEVEL})
endif()
