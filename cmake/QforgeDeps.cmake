# Every third-party dependency is found here, by package name (scripts/setup installs them).
# QFORGE_DEPS_PREFIX points at .deb files unpacked with `dpkg -x` (scripts/carry-deps) on
# machines without a package registry; it is searched before the system.
if(QFORGE_DEPS_PREFIX)
  list(PREPEND CMAKE_PREFIX_PATH ${QFORGE_DEPS_PREFIX}/usr
       ${QFORGE_DEPS_PREFIX}/usr/lib/x86_64-linux-gnu/cmake ${QFORGE_DEPS_PREFIX}/usr/share/cmake)
  set(_qf_hint_inc ${QFORGE_DEPS_PREFIX}/usr/include ${QFORGE_DEPS_PREFIX}/usr/include/x86_64-linux-gnu)
  set(_qf_hint_lib ${QFORGE_DEPS_PREFIX}/usr/lib/x86_64-linux-gnu ${QFORGE_DEPS_PREFIX}/usr/lib)
endif()

find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)         # CPU backend trains with MPI ranks too
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(yaml-cpp REQUIRED)
if(NOT TARGET yaml-cpp::yaml-cpp)                 # yaml-cpp 0.7 exports `yaml-cpp` only
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()
find_package(OpenMP)
find_package(PNG REQUIRED)                        # loss-curve plots
find_package(Boost 1.74 REQUIRED)                 # header-only Asio/Beast: Boost::headers (serve/)

# OpenBLAS: the CPU backend's GEMM (cblas_sgemm).
find_path(OPENBLAS_INCLUDE_DIR cblas.h HINTS ${_qf_hint_inc}
          PATH_SUFFIXES openblas x86_64-linux-gnu x86_64-linux-gnu/openblas-pthread)
find_library(OPENBLAS_LIBRARY NAMES openblas HINTS ${_qf_hint_lib}
             PATH_SUFFIXES openblas-pthread)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: install libopenblas-dev (scripts/setup)")
endif()
add_library(qforge_openblas INTERFACE)
target_include_directories(qforge_openblas INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(qforge_openblas INTERFACE ${OPENBLAS_LIBRARY})

# PCRE2 (tokenizer.json pre-tokenizer regexes) and utf8proc (Unicode categories, NFC/NFKC).
find_path(PCRE2_INCLUDE_DIR pcre2.h HINTS ${_qf_hint_inc})
find_library(PCRE2_LIBRARY NAMES pcre2-8 HINTS ${_qf_hint_lib})
find_path(UTF8PROC_INCLUDE_DIR utf8proc.h HINTS ${_qf_hint_inc})
find_library(UTF8PROC_LIBRARY NAMES utf8proc HINTS ${_qf_hint_lib})
foreach(_v PCRE2_INCLUDE_DIR PCRE2_LIBRARY UTF8PROC_INCLUDE_DIR UTF8PROC_LIBRARY)
  if(NOT ${_v})
    message(FATAL_ERROR "${_v} not found: install libpcre2-dev and libutf8proc-dev (scripts/setup)")
  endif()
endforeach()
add_library(qforge_pcre2 INTERFACE)
target_include_directories(qforge_pcre2 INTERFACE ${PCRE2_INCLUDE_DIR})
target_link_libraries(qforge_pcre2 INTERFACE ${PCRE2_LIBRARY})
target_compile_definitions(qforge_pcre2 INTERFACE PCRE2_CODE_UNIT_WIDTH=8)
add_library(qforge_utf8proc INTERFACE)
target_include_directories(qforge_utf8proc INTERFACE ${UTF8PROC_INCLUDE_DIR})
target_link_libraries(qforge_utf8proc INTERFACE ${UTF8PROC_LIBRARY})

# hnswlib (header-only; approximate dense search in rag/). SYSTEM: its headers are not ours to
# keep warning-free, and under QFORGE_DEPS_PREFIX they are not in a system directory.
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h HINTS ${_qf_hint_inc})
if(NOT HNSWLIB_INCLUDE_DIR)
  message(FATAL_ERROR "hnswlib not found: install libhnswlib-dev (scripts/setup; scripts/carry-deps)")
endif()
add_library(qforge_hnswlib INTERFACE)
target_include_directories(qforge_hnswlib SYSTEM INTERFACE ${HNSWLIB_INCLUDE_DIR})
