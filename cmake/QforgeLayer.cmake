# qforge_add_layer(<name> PUBLIC_LIBS ... PRIVATE_LIBS ...): one folder = one library target,
# qforge_<name> with alias qforge::<name>, built from every .cpp under the folder.
function(qforge_add_layer name)
  cmake_parse_arguments(L "" "" "PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  file(GLOB_RECURSE _src CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(qforge_${name} ${_src} ${PROJECT_SOURCE_DIR}/cmake/empty.cpp)
  add_library(qforge::${name} ALIAS qforge_${name})
  target_include_directories(qforge_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(qforge_${name} PUBLIC ${L_PUBLIC_LIBS} PRIVATE qforge_warnings ${L_PRIVATE_LIBS})
endfunction()
