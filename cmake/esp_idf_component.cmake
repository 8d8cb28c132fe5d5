# tbmqtt — the ESP-IDF component: registration and settings. Included from the root
# CMakeLists.txt (when ESP_PLATFORM is set) and from cmake/idf_component/tbmqtt/CMakeLists.txt,
# the wrapper that names the component "tbmqtt" (ESP-IDF names a component after its directory,
# so a checkout called "main" added with EXTRA_COMPONENT_DIRS would replace the app's main).
# Kconfig (menuconfig "tbmqtt") values reach the code through include/tbmqtt/config.hpp, which
# maps every CONFIG_TBMQTT_* of sdkconfig.h to its TBMQTT_* limit (one place for every limit).
get_filename_component(TBMQTT_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
file(GLOB TBMQTT_IDF_SOURCES ${TBMQTT_ROOT}/src/core/*.cpp ${TBMQTT_ROOT}/src/transport/esp_mqtt/*.cpp
     ${TBMQTT_ROOT}/src/platform/common/*.cpp ${TBMQTT_ROOT}/src/platform/esp_idf/*.cpp
     ${TBMQTT_ROOT}/src/platform/mbedtls/*.cpp)
set(TBMQTT_IDF_REQUIRES mqtt mbedtls nvs_flash esp_timer)
idf_build_get_property(TBMQTT_IDF_TARGET IDF_TARGET)
if(TBMQTT_IDF_TARGET STREQUAL "linux")
  # No app partitions, bootloader or esp_ota_* on the linux target: the esp_ota sink is chip-only.
  list(FILTER TBMQTT_IDF_SOURCES EXCLUDE REGEX "/esp_ota_sink\\.cpp$")
else()
  list(APPEND TBMQTT_IDF_REQUIRES app_update)
endif()
idf_component_register(SRCS ${TBMQTT_IDF_SOURCES} INCLUDE_DIRS ${TBMQTT_ROOT}/include
                       REQUIRES ${TBMQTT_IDF_REQUIRES} KCONFIG ${TBMQTT_ROOT}/Kconfig)

# IDF v4.4 compiles C++ as gnu++11 by default; the SDK and its public headers need C++17.
# IDF 5.x defaults to a newer standard, which is kept.
if(DEFINED IDF_VERSION_MAJOR AND IDF_VERSION_MAJOR LESS 5)
  target_compile_options(${COMPONENT_LIB} PUBLIC $<$<COMPILE_LANGUAGE:CXX>:-std=gnu++17>)
endif()

# ESP-IDF's own log macro (not a tbmqtt limit): the SDK's sources log at the Kconfig level.
if(DEFINED CONFIG_TBMQTT_LOG_LEVEL)
  target_compile_definitions(${COMPONENT_LIB} PRIVATE LOG_LOCAL_LEVEL=${CONFIG_TBMQTT_LOG_LEVEL})
endif()
