# Every dependency comes from Debian 12's packages (see shared/DEPENDENCIES.md).
# lp_deps is one INTERFACE target that carries them all.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(mimalloc REQUIRED)

pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv>=1.44)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka>=2.0)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis>=0.14)
pkg_check_modules(MSGPACK REQUIRED IMPORTED_TARGET msgpack>=4.0)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson>=2.14)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)

find_path(STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
find_library(STEMMER_LIBRARY stemmer REQUIRED)

# llhttp: C sources and header from node-llhttp.
find_path(LLHTTP_INCLUDE_DIR llhttp.h PATHS /usr/share/include/llhttp REQUIRED NO_DEFAULT_PATH)
set(LLHTTP_SRC_DIR /usr/share/llhttp)
set(LLHTTP_SOURCES ${LLHTTP_SRC_DIR}/llhttp.c ${LLHTTP_SRC_DIR}/api.c ${LLHTTP_SRC_DIR}/http.c)
foreach(f ${LLHTTP_SOURCES})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "llhttp source ${f} not found: apt-get install node-llhttp")
  endif()
endforeach()

add_library(lp_deps INTERFACE)
target_include_directories(lp_deps INTERFACE ${STEMMER_INCLUDE_DIR})
target_link_libraries(lp_deps INTERFACE
  PkgConfig::LIBUV PkgConfig::RDKAFKA PkgConfig::HIREDIS PkgConfig::MSGPACK
  PkgConfig::JANSSON PkgConfig::INIH PkgConfig::UTF8PROC PkgConfig::XXHASH
  ${STEMMER_LIBRARY} mimalloc)

pkg_check_modules(CRITERION IMPORTED_TARGET criterion)
