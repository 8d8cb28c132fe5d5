# tbmqtt — CMake toolchain file: Cortex-M3, arm-none-eabi-gcc with picolibc and semihosting.
# Builds the portable core for a microcontroller, e.g.
#   cmake -S . -B build/m3 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-cortex-m3-picolibc.cmake \
#         -DTBMQTT_TESTS=OFF -DTBMQTT_BENCH=OFF
#   cmake --build build/m3 --target tbmqtt_core
# The unit tests run on qemu through tests/embedded/run.sh instead (no CMake needed).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_AR arm-none-eabi-ar)
set(CMAKE_RANLIB arm-none-eabi-ranlib)
set(CMAKE_SIZE arm-none-eabi-size)
# No OS to link a test program for while CMake probes the compiler.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(TBMQTT_ARM_FLAGS "-mcpu=cortex-m3 -mthumb --specs=picolibcpp.specs")
set(CMAKE_C_FLAGS_INIT "${TBMQTT_ARM_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${TBMQTT_ARM_FLAGS} -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti")
# Size first for every build type (CMake appends its own -O3 to *_RELEASE_INIT, so set the cache).
set(CMAKE_C_FLAGS_RELEASE "-Os -DNDEBUG" CACHE STRING "")
set(CMAKE_CXX_FLAGS_RELEASE "-Os -DNDEBUG" CACHE STRING "")
set(CMAKE_C_FLAGS_MINSIZEREL "-Os -DNDEBUG" CACHE STRING "")
set(CMAKE_CXX_FLAGS_MINSIZEREL "-Os -DNDEBUG" CACHE STRING "")
# mps2-an385 memory map (as used by tests/embedded/run.sh). The linker script must follow the
# --defsym options, or picolibc.ld ignores __stack_size.
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "--crt0=semihost --oslib=semihost -Wl,--gc-sections -Wl,--defsym=__flash=0x0 -Wl,--defsym=__flash_size=0x400000 -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000 -Wl,--defsym=__stack_size=0x10000 -Tpicolibcpp.ld")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
