# The web console, the API docs page and docs/openapi.json, compiled into lp_core (core/server/console.c).
# Included once by core/server/CMakeLists.txt.
#
# Swagger UI (GET /docs) comes from the npm package swagger-ui-dist, pinned in web/package-lock.json and
# installed into a cache by deploy/local/lib.sh (lp_web_node_modules): at configure time, once; nothing is
# fetched at build or run time after that. -DLP_WEB_NODE_MODULES=DIR (or the environment's
# LEADPOET_WEB_NODE_MODULES) names a node_modules folder to use instead.
set(LP_WEB_NODE_MODULES "" CACHE PATH "node_modules of web/package.json (empty: lp_web_node_modules installs it)")
set(lp_web_nm "${LP_WEB_NODE_MODULES}")
if(NOT lp_web_nm AND DEFINED ENV{LEADPOET_WEB_NODE_MODULES})
  set(lp_web_nm "$ENV{LEADPOET_WEB_NODE_MODULES}")
endif()
if(NOT lp_web_nm)
  execute_process(COMMAND bash -c "source '${CMAKE_SOURCE_DIR}/deploy/local/lib.sh' && lp_web_node_modules"
                  OUTPUT_VARIABLE lp_web_nm ERROR_VARIABLE lp_web_err RESULT_VARIABLE lp_web_rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT lp_web_rc EQUAL 0)
    message(FATAL_ERROR "the web console's npm packages (web/package-lock.json) could not be installed:\n"
                        "${lp_web_err}\nRun `bash -c 'source deploy/local/lib.sh && lp_web_node_modules'` "
                        "where the npm registry is reachable, or pass -DLP_WEB_NODE_MODULES=DIR.")
  endif()
endif()
if(NOT EXISTS "${lp_web_nm}/swagger-ui-dist/swagger-ui-bundle.js")
  message(FATAL_ERROR "${lp_web_nm} has no swagger-ui-dist: install web/package.json there (lp_web_node_modules)")
endif()
# The lock file decides which copy is used: configure again when it changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/web/package-lock.json)
# For the browser test (tests/console), which drives chromium with playwright-core from the same folder.
set(LP_WEB_NODE_MODULES_DIR "${lp_web_nm}" CACHE INTERNAL "node_modules used by the console build and tests")

set(lp_web ${CMAKE_SOURCE_DIR}/web)
set(lp_swagger ${lp_web_nm}/swagger-ui-dist)
# NAME=PATH: NAME is what /assets/NAME serves; "/", "/docs" and "/openapi.json" serve three of them.
set(lp_console_assets
  index.html=${lp_web}/index.html
  console.css=${lp_web}/console.css
  console.js=${lp_web}/console.js
  charts.js=${lp_web}/charts.js
  favicon.svg=${lp_web}/favicon.svg
  docs.html=${lp_web}/docs.html
  docs.js=${lp_web}/docs.js
  openapi.json=${CMAKE_SOURCE_DIR}/docs/openapi.json
  swagger-ui-bundle.js=${lp_swagger}/swagger-ui-bundle.js
  swagger-ui.css=${lp_swagger}/swagger-ui.css
  swagger-ui-LICENSE.txt=${lp_swagger}/LICENSE)
set(lp_manifest ${CMAKE_BINARY_DIR}/generated/console_assets.txt)
set(lp_manifest_text "")
set(lp_asset_files "")
foreach(e ${lp_console_assets})
  string(APPEND lp_manifest_text "${e}\n")
  string(REGEX REPLACE "^[^=]*=" "" f "${e}")
  list(APPEND lp_asset_files ${f})
endforeach()
file(CONFIGURE OUTPUT ${lp_manifest} CONTENT "${lp_manifest_text}")

set(lp_assets_c ${CMAKE_BINARY_DIR}/generated/console_assets.c)
set(lp_assets_stamp ${CMAKE_BINARY_DIR}/generated/console_assets.stamp)
add_custom_command(OUTPUT ${lp_assets_stamp}
  BYPRODUCTS ${lp_assets_c}
  COMMAND ${CMAKE_COMMAND} -DMANIFEST=${lp_manifest} -DOUT=${lp_assets_c} -DWORK=${CMAKE_BINARY_DIR}/generated/console
          -P ${lp_web}/embed_assets.cmake
  COMMAND ${CMAKE_COMMAND} -E touch ${lp_assets_stamp}
  DEPENDS ${lp_asset_files} ${lp_manifest} ${lp_web}/embed_assets.cmake
  COMMENT "Embedding the web console and the API docs")
# As in cmake/Embed.cmake: a target of its own, since lp_core is defined in another directory.
add_custom_target(lp_console_assets DEPENDS ${lp_assets_stamp})
set_source_files_properties(${lp_assets_c} PROPERTIES GENERATED TRUE)
target_sources(lp_core PRIVATE ${lp_assets_c})
add_dependencies(lp_core lp_console_assets)
