# `cmake --install build --prefix P`: the layer libraries and the umbrella as the exported target
# set mithril:: (P/lib/cmake/mithril: config, version and targets files), the headers of
# src/mithril in their mithril/<layer>/ layout plus <mithril/mithril.hpp> (P/include), mithril.pc
# (P/lib/pkgconfig) and the `mithril` command (P/bin). tests/consumer builds against it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(MITHRIL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mithril)

install(TARGETS ${MITHRIL_LIBRARIES} mithril EXPORT mithrilTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS mithril_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Each header (and the op table ops.def) in its folder, so no folder of sources only is created.
file(GLOB_RECURSE MITHRIL_HEADERS CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}/src
     ${PROJECT_SOURCE_DIR}/src/mithril/*.h ${PROJECT_SOURCE_DIR}/src/mithril/*.def)
foreach(header IN LISTS MITHRIL_HEADERS)
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/src/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/include/mithril/mithril.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mithril)

install(EXPORT mithrilTargets NAMESPACE mithril:: DESTINATION ${MITHRIL_CMAKE_DIR} FILE mithrilTargets.cmake)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mithrilConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mithrilConfig.cmake INSTALL_DESTINATION ${MITHRIL_CMAKE_DIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mithrilConfigVersion.cmake VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mithrilConfig.cmake ${PROJECT_BINARY_DIR}/mithrilConfigVersion.cmake
        DESTINATION ${MITHRIL_CMAKE_DIR})

# mithril.pc finds its prefix from its own place (${pcfiledir}), so it holds for any --prefix.
# Libraries top-down, each before the layers it uses.
set(MITHRIL_PC_LIBS "")
foreach(lib IN LISTS MITHRIL_LIBRARIES)
  string(PREPEND MITHRIL_PC_LIBS "-l${lib} ")
endforeach()
string(STRIP "${MITHRIL_PC_LIBS}" MITHRIL_PC_LIBS)
file(RELATIVE_PATH MITHRIL_PC_PREFIX_FROM_PCDIR /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" MITHRIL_PC_PREFIX_FROM_PCDIR "${MITHRIL_PC_PREFIX_FROM_PCDIR}")
set(MITHRIL_PC_LIBS_EXTRA "")
if(MITHRIL_SANITIZE)
  list(JOIN MITHRIL_SANITIZE_FLAGS " " MITHRIL_PC_LIBS_EXTRA)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/mithril.pc.in ${PROJECT_BINARY_DIR}/mithril.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mithril.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
