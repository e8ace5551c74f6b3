# Install rules: `cmake --install build --prefix P` puts the C++ SDK (headers,
# static archives, CMake package) and the Hourglass binaries under P, so a
# user's own project says
#
#   find_package(Hourglass REQUIRED)
#   target_link_libraries(my-worker PRIVATE Hourglass::sdk)
#
# and links that one target (examples/greeter is such a project).
#
# Mechanism: the static archives, exported with install(EXPORT). A static
# archive's private dependencies are still link dependencies of whoever links
# it, so the SDK's internal libraries (ipc, the generated protobuf code) are
# exported too, and HourglassConfig.cmake finds their third-party dependencies
# (Protobuf, spdlog, fmt, libevent, nlohmann_json, Threads) with
# find_dependency(), all of them Debian packages. A shared libhourglass_sdk.so
# bundling the internal libraries was the alternative; it needs the generated
# Temporal protos, the largest library in the tree, compiled a second time as
# position-independent code, for every build and every engineer.
#
# Included at the end of the top-level CMakeLists.txt, once every target exists.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(HOURGLASS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Hourglass)

# --- Keep the source and build trees out of the export ------------------------
# hourglass_flags gives our own code the source root as an include directory
# plus our warning policy (-Werror); the generated-proto library gives build/gen.
# Neither means anything in an install prefix, and the SDK's public headers
# need neither (they include only the standard library and nlohmann/json), so
# the build keeps them and the export drops them. $<BUILD_INTERFACE:x> is x in
# the build, so no compile command changes.
function(_hourglass_build_interface_only target)
  foreach(property IN LISTS ARGN)
    get_target_property(values ${target} ${property})
    if(NOT values)
      continue()
    endif()
    set(wrapped)
    foreach(value IN LISTS values)
      list(APPEND wrapped "$<BUILD_INTERFACE:${value}>")
    endforeach()
    set_property(TARGET ${target} PROPERTY ${property} "${wrapped}")
  endforeach()
endfunction()
# Link options stay: a sanitizer build's package must still link with them.
_hourglass_build_interface_only(hourglass_flags INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_OPTIONS)
_hourglass_build_interface_only(hourglass_temporal_proto
                                INTERFACE_INCLUDE_DIRECTORIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES)

# Users write C++20 coroutines against these headers: say so, so a project
# that sets no standard of its own still compiles them.
target_compile_features(hourglass_sdk INTERFACE cxx_std_20)

# --- The SDK -------------------------------------------------------------------
# Only Hourglass::sdk is for users; the others are there because it links them.
# The build tree has the same name, so code in this tree that is written as a
# user's project is (docs/user-guide) reads the same.
add_library(Hourglass::sdk ALIAS hourglass_sdk)
set_target_properties(hourglass_sdk PROPERTIES EXPORT_NAME sdk)
set_target_properties(hourglass_ipc PROPERTIES EXPORT_NAME internal_ipc)
set_target_properties(hourglass_ipc_proto PROPERTIES EXPORT_NAME internal_ipc_proto)
set_target_properties(hourglass_temporal_proto PROPERTIES EXPORT_NAME internal_temporal_proto)
set_target_properties(hourglass_flags PROPERTIES EXPORT_NAME internal_flags)
add_library(Hourglass::testing ALIAS hourglass_testkit)
set_target_properties(hourglass_testkit PROPERTIES EXPORT_NAME testing)
install(TARGETS hourglass_sdk hourglass_testkit hourglass_ipc hourglass_ipc_proto hourglass_temporal_proto hourglass_flags
        EXPORT HourglassTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/workerproc/sdk/include/hourglass
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# --- The binaries --------------------------------------------------------------
# Exported as well (Hourglass::bridgehost, ...), so a user's integration tests
# can find the dev server and bridge host with $<TARGET_FILE:...>; aliased in
# the build tree like Hourglass::sdk.
set(_hourglass_programs
  hourglass-bridgehost bridgehost
  hourglass-devserver devserver
  hourglass-workerproc workerproc
  hourglass-supervisor supervisor
  hourglass cli)
while(_hourglass_programs)
  list(POP_FRONT _hourglass_programs target export_name)
  if(TARGET ${target})
    add_executable(Hourglass::${export_name} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
    install(TARGETS ${target} EXPORT HourglassTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endwhile()

# --- The CMake package -----------------------------------------------------------
# CLI11 is header-only, but a target the SDK links privately is still named in
# the export, so the package must find it whenever the SDK linked it.
get_target_property(_hourglass_sdk_links hourglass_sdk LINK_LIBRARIES)
if("CLI11::CLI11" IN_LIST _hourglass_sdk_links)
  set(HOURGLASS_SDK_NEEDS_CLI11 ON)
else()
  set(HOURGLASS_SDK_NEEDS_CLI11 OFF)
endif()

install(EXPORT HourglassTargets
        NAMESPACE Hourglass::
        DESTINATION ${HOURGLASS_INSTALL_CMAKEDIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/HourglassConfig.cmake.in
  ${PROJECT_BINARY_DIR}/HourglassConfig.cmake
  INSTALL_DESTINATION ${HOURGLASS_INSTALL_CMAKEDIR}
  NO_SET_AND_CHECK_MACRO)
# 0.x: a new minor version may break the API, so only the same minor matches.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/HourglassConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/HourglassConfig.cmake ${PROJECT_BINARY_DIR}/HourglassConfigVersion.cmake
        DESTINATION ${HOURGLASS_INSTALL_CMAKEDIR})
