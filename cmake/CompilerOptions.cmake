# Warnings for our own targets (dependencies are included as SYSTEM and stay quiet).
option(DH_WERROR "Treat warnings as errors (the presets turn it on)" OFF)
add_library(dh_warnings INTERFACE)
target_compile_options(dh_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wimplicit-fallthrough
  # GCC 12 reports Asio's coroutine frame allocator as mismatched new/delete: a known false
  # positive (GCC bug 105457); the frames are allocated and freed by Asio's own operators.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>
  $<$<BOOL:${DH_WERROR}>:-Werror>)

# Sanitizers for the `asan` preset: address + undefined behaviour, abort on the first report.
option(DH_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(DH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(DH_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DH_BUILD_FUZZERS needs clang (use the `fuzz` preset)")
  endif()
  # Everything is instrumented for coverage; only fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
