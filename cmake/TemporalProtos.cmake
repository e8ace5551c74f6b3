# Temporal's API protos and sdk-core's Core protos, taken from the npm package
# @temporalio/core-bridge (which vendors both), pinned by version and integrity.
#
# The tarball is fetched once with npm's own client into a cache outside the
# build tree, its SHA-512 checked against the integrity npm publishes, and the
# proto trees and recorded histories extracted next to it. A second configure,
# or a configure of another build tree, downloads nothing.
#
#   -DHOURGLASS_PROTO_DIR=/path     a local directory holding api_upstream/ and
#                                   local/ (as in sdk-core's crates/protos/protos)
#   -DHOURGLASS_CACHE_DIR=/path     where the package is cached
#                                   (default: $XDG_CACHE_HOME or ~/.cache, /hourglass)

set(HOURGLASS_CORE_BRIDGE_VERSION 1.24.0)
set(HOURGLASS_CORE_BRIDGE_INTEGRITY
    "sha512-6kzPB8RsHcPU6HDNUSDBFC0JG2UFrV3ThmPmJkeEafKh2DFrKARM8IzxgKeE5MzvdIXYmONFM0UmHg+TZ0/qrQ==")
# The same digest in hex, as CMake's file(SHA512) prints it.
set(_core_bridge_sha512
    "ea4ccf07c46c1dc3d4e870cd5120c1142d091b6505ad5dd38663e626478469f2a1d8316b28044cf08cf180a784e4ccef7485d898e3453345261e0f93674feaad")

set(HOURGLASS_PROTO_DIR "" CACHE PATH "Local directory with api_upstream/ and local/ proto trees")
if(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
  set(_default_cache "$ENV{XDG_CACHE_HOME}/hourglass")
else()
  set(_default_cache "$ENV{HOME}/.cache/hourglass")
endif()
set(HOURGLASS_CACHE_DIR "${_default_cache}" CACHE PATH "Cache for downloaded packages")

set(_pkg_dir "${HOURGLASS_CACHE_DIR}/core-bridge-${HOURGLASS_CORE_BRIDGE_VERSION}")
set(_tarball "${_pkg_dir}/temporalio-core-bridge-${HOURGLASS_CORE_BRIDGE_VERSION}.tgz")
set(_stamp "${_pkg_dir}/extracted.stamp")
set(_protos_sub "package/sdk-core/crates/protos/protos")
set(_histories_sub "package/sdk-core/crates/sdk-core/tests/histories")

if(NOT EXISTS "${_stamp}")
  file(MAKE_DIRECTORY "${_pkg_dir}")
  if(NOT EXISTS "${_tarball}")
    find_program(NPM_PROGRAM npm)
    if(NOT NPM_PROGRAM)
      message(FATAL_ERROR "npm is needed once to fetch @temporalio/core-bridge@${HOURGLASS_CORE_BRIDGE_VERSION}"
                          " (or pass -DHOURGLASS_PROTO_DIR=...)")
    endif()
    message(STATUS "Fetching @temporalio/core-bridge@${HOURGLASS_CORE_BRIDGE_VERSION} with npm into ${_pkg_dir}")
    execute_process(
      COMMAND ${NPM_PROGRAM} pack "@temporalio/core-bridge@${HOURGLASS_CORE_BRIDGE_VERSION}"
              --pack-destination "${_pkg_dir}" --silent
      WORKING_DIRECTORY "${_pkg_dir}"
      RESULT_VARIABLE _npm_rc OUTPUT_QUIET)
    if(NOT _npm_rc EQUAL 0 OR NOT EXISTS "${_tarball}")
      message(FATAL_ERROR "npm pack @temporalio/core-bridge@${HOURGLASS_CORE_BRIDGE_VERSION} failed (${_npm_rc})")
    endif()
  endif()
  file(SHA512 "${_tarball}" _digest)
  if(NOT _digest STREQUAL _core_bridge_sha512)
    file(REMOVE "${_tarball}")
    message(FATAL_ERROR "Integrity mismatch for ${_tarball}: expected ${HOURGLASS_CORE_BRIDGE_INTEGRITY}"
                        " (sha512 ${_core_bridge_sha512}), got sha512 ${_digest}. The file was removed.")
  endif()
  execute_process(
    COMMAND tar -xzf "${_tarball}" -C "${_pkg_dir}" "${_protos_sub}" "${_histories_sub}"
    RESULT_VARIABLE _tar_rc)
  if(NOT _tar_rc EQUAL 0)
    message(FATAL_ERROR "Could not extract protos from ${_tarball}")
  endif()
  file(WRITE "${_stamp}" "${HOURGLASS_CORE_BRIDGE_INTEGRITY}\n")
endif()

if(HOURGLASS_PROTO_DIR)
  set(TEMPORAL_PROTO_ROOT "${HOURGLASS_PROTO_DIR}")
else()
  set(TEMPORAL_PROTO_ROOT "${_pkg_dir}/${_protos_sub}")
endif()
set(TEMPORAL_HISTORIES_DIR "${_pkg_dir}/${_histories_sub}" CACHE INTERNAL "sdk-core recorded histories")
set(TEMPORAL_API_PROTO_DIR "${TEMPORAL_PROTO_ROOT}/api_upstream")
set(TEMPORAL_CORE_PROTO_DIR "${TEMPORAL_PROTO_ROOT}/local")
foreach(_d IN ITEMS "${TEMPORAL_API_PROTO_DIR}/temporal/api" "${TEMPORAL_CORE_PROTO_DIR}/temporal/sdk/core")
  if(NOT IS_DIRECTORY "${_d}")
    message(FATAL_ERROR "Missing proto directory ${_d}")
  endif()
endforeach()

# System well-known types come first on the include path, so the copies under
# api_upstream/google/protobuf are never used.
set(PROTOBUF_SYSTEM_INCLUDE "${Protobuf_INCLUDE_DIRS}")
set(TEMPORAL_PROTO_INCLUDES
    -I${PROTOBUF_SYSTEM_INCLUDE} -I${TEMPORAL_API_PROTO_DIR} -I${TEMPORAL_CORE_PROTO_DIR}
    -I${TEMPORAL_PROTO_ROOT})

# The roots we need; everything they import is found by protoc itself.
set(TEMPORAL_PROTO_ROOTS
    temporal/api/workflowservice/v1/service.proto
    temporal/api/errordetails/v1/message.proto
    temporal/sdk/core/core_interface.proto
    grpc/health/v1/health.proto
    google/rpc/status.proto)

# Ask protoc for the transitive closure (a descriptor set with imports), then
# list its file names. This runs at configure time and takes well under a second.
set(_ds "${CMAKE_BINARY_DIR}/temporal_closure.pb")
execute_process(
  COMMAND ${Protobuf_PROTOC_EXECUTABLE} ${TEMPORAL_PROTO_INCLUDES} --include_imports
          --descriptor_set_out=${_ds} ${TEMPORAL_PROTO_ROOTS}
  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "protoc could not read Temporal's protos: ${_err}")
endif()
execute_process(
  COMMAND ${Protobuf_PROTOC_EXECUTABLE} -I${PROTOBUF_SYSTEM_INCLUDE}
          --decode=google.protobuf.FileDescriptorSet google/protobuf/descriptor.proto
  INPUT_FILE ${_ds} OUTPUT_VARIABLE _decoded RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "protoc could not decode the descriptor set")
endif()
string(REGEX MATCHALL "\n  name: \"[^\"]+\"" _names "${_decoded}")
set(TEMPORAL_PROTO_FILES)
foreach(_n IN LISTS _names)
  string(REGEX REPLACE "\n  name: \"([^\"]+)\"" "\\1" _f "${_n}")
  if(NOT _f MATCHES "^google/protobuf/")
    list(APPEND TEMPORAL_PROTO_FILES ${_f})
  endif()
endforeach()
list(LENGTH TEMPORAL_PROTO_FILES _count)
message(STATUS "Temporal protos: ${_count} files from ${TEMPORAL_PROTO_ROOT}")

# Resolve a proto file name to its path in one of the roots.
function(temporal_proto_path name out_var)
  foreach(root IN ITEMS "${TEMPORAL_API_PROTO_DIR}" "${TEMPORAL_CORE_PROTO_DIR}" "${TEMPORAL_PROTO_ROOT}")
    if(EXISTS "${root}/${name}")
      set(${out_var} "${root}/${name}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "Proto ${name} not found")
endfunction()
