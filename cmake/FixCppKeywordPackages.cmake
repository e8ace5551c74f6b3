# Run with cmake -P after protoc. Protobuf 3.21's C++ generator emits package
# components verbatim, and Temporal has a package `temporal.api.namespace.v1`:
# `namespace` is a C++ keyword. Newer protoc versions rename such a namespace to
# `namespace_`; we do the same to the generated C++ only. The embedded
# descriptors keep the real package name, so full message names, Any type URLs
# and reflection are unchanged.
#
#   cmake "-DFILES=<a.pb.h>;<a.pb.cc>;..." -P FixCppKeywordPackages.cmake
# Only the files one protoc run wrote are touched, so parallel runs never race.
foreach(_f IN LISTS FILES)
  file(READ "${_f}" _text)
  string(FIND "${_text}" "api::namespace::" _a)
  string(FIND "${_text}" "namespace namespace {" _b)
  if(_a EQUAL -1 AND _b EQUAL -1)
    continue()
  endif()
  string(REPLACE "::temporal::api::namespace::" "::temporal::api::namespace_::" _text "${_text}")
  string(REPLACE "namespace namespace {" "namespace namespace_ {" _text "${_text}")
  string(REPLACE "}  // namespace namespace\n" "}  // namespace namespace_\n" _text "${_text}")
  file(WRITE "${_f}" "${_text}")
endforeach()
