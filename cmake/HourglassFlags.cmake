# Compile flags for Hourglass's own code. Generated protobuf code does not link
# this target, so sanitizer and warning flags apply to what we write only.
add_library(hourglass_flags INTERFACE)
target_compile_options(hourglass_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                 -Wnon-virtual-dtor -Wno-unused-parameter)
if(HOURGLASS_WERROR)
  target_compile_options(hourglass_flags INTERFACE -Werror)
endif()
target_include_directories(hourglass_flags INTERFACE ${CMAKE_SOURCE_DIR})

if(HOURGLASS_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  if(HOURGLASS_FUZZ)
    # Coverage for all our code, so libFuzzer is guided by the libraries a
    # fuzzer drives, not just its own file. clang 14 cannot emit coroutines
    # with coverage plus -fsanitize=function ("cannot represent a difference
    # across sections"): that one check goes.
    list(APPEND _san -fsanitize=fuzzer-no-link -fno-sanitize=function)
  endif()
  target_compile_options(hourglass_flags INTERFACE ${_san})
  target_link_options(hourglass_flags INTERFACE ${_san})
endif()

# Generated code: no debug info (it is large and never stepped through), no warnings.
function(hourglass_generated_flags target)
  target_compile_options(${target} PRIVATE -g0 -w)
  if(HOURGLASS_SANITIZE)
    target_compile_options(${target} PRIVATE -O1)
  endif()
endfunction()
