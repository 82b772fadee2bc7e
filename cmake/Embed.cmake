# lp_embed_file(TARGET SYMBOL FILE): compiles FILE into TARGET as
#   const unsigned char SYMBOL[]; const size_t SYMBOL_len;   (NUL-terminated, len excludes the NUL)
# Declare them with LP_EMBED_DECLARE(SYMBOL) from core/base/embed.h. Rebuilt when FILE changes.
# The rule lives in a custom target of its own, because a custom command's output is only visible to
# targets of the directory that defines it, and lp_core is defined at the top level.
function(lp_embed_file target symbol file)
  get_filename_component(abs ${file} ABSOLUTE)
  set(out ${CMAKE_BINARY_DIR}/generated/embed_${symbol}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${abs} -DOUT=${out} -DSYM=${symbol} -P ${CMAKE_SOURCE_DIR}/cmake/EmbedGen.cmake
    DEPENDS ${abs} ${CMAKE_SOURCE_DIR}/cmake/EmbedGen.cmake
    COMMENT "Embedding ${file}")
  add_custom_target(lp_embed_${symbol} DEPENDS ${out})
  set_source_files_properties(${out} PROPERTIES GENERATED TRUE)
  target_sources(${target} PRIVATE ${out})
  add_dependencies(${target} lp_embed_${symbol})
endfunction()
