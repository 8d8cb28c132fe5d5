# `cmake --install`: the Linux SDK (static libraries tbmqtt + tbmqtt_core), its public headers, the
# `tbmqtt` command, the emulator (mosquitto plugin + admin tool), a CMake package
# (find_package(tbmqtt) -> imported target tbmqtt::tbmqtt carrying libmosquitto, OpenSSL,
# mbedcrypto and threads) and tbmqtt.pc for pkg-config. `./run package` turns it into a .deb (CPack).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS tbmqtt tbmqtt_core EXPORT tbmqttTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The ESP-IDF headers need ESP-IDF; they are not part of the Linux package.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/tbmqtt DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        PATTERN "esp_*" EXCLUDE)
install(TARGETS tbmqtt_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET tbmqtt_emulator)
  # `tbmqtt emulator start` looks for the plugin in ../lib next to the binary: plain lib/, not the
  # multiarch library directory.
  install(TARGETS tbmqtt_emulator LIBRARY DESTINATION lib)
  install(TARGETS tbmqtt_emulator_admin_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(TBMQTT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tbmqtt)
install(EXPORT tbmqttTargets NAMESPACE tbmqtt:: DESTINATION ${TBMQTT_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/tbmqttConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/tbmqttConfig.cmake INSTALL_DESTINATION ${TBMQTT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/tbmqttConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/tbmqttConfig.cmake ${CMAKE_BINARY_DIR}/tbmqttConfigVersion.cmake
        DESTINATION ${TBMQTT_CMAKE_DIR})

# pkg-config: relocatable (prefix found from the .pc file's own place), so the same file works in
# /usr, /usr/local or any --prefix.
set(TBMQTT_PC_UP "")
string(REPLACE "/" ";" _tbmqtt_libdir_parts "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
foreach(_part IN LISTS _tbmqtt_libdir_parts)
  string(APPEND TBMQTT_PC_UP "/..")
endforeach()
configure_file(${CMAKE_SOURCE_DIR}/cmake/tbmqtt.pc.in ${CMAKE_BINARY_DIR}/tbmqtt.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/tbmqtt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CPack: a Debian package of all of the above (`./run package`).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tbmqtt)
set(CPACK_PACKAGE_VENDOR "tbmqtt")
set(CPACK_PACKAGE_CONTACT "tbmqtt maintainers <tbmqtt@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ThingsBoard MQTT device SDK (static library, headers), the tbmqtt CLI and emulator")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What a program linking the static library needs, and what `tbmqtt emulator start` runs.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libmosquitto-dev, libssl-dev, libmbedtls-dev, pkg-config, mosquitto")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
set(CPACK_STRIP_FILES ON)
include(CPack)
