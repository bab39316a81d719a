# Install rules (docs/library.md): public headers, the libraries, a CMake package
# (find_package(retention CONFIG) → retention::engine, ::sqlite, ::postgres, ::files,
# ::connectors), its version file, a pkg-config file, the shipped policies and the
# executables.
include(CMakePackageConfigHelpers)

set(RETENTION_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/retention)
set(retention_libraries retention_engine retention_sqlite_handle retention_connector_sqlite retention_connector_files
    retention_connectors)
if(RETENTION_WITH_POSTGRES)
  list(APPEND retention_libraries retention_connector_postgres)
endif()
install(TARGETS ${retention_libraries} EXPORT retentionTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/retention ${PROJECT_SOURCE_DIR}/connectors/include/retention
                  ${PROJECT_BINARY_DIR}/engine/include/retention
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(EXPORT retentionTargets NAMESPACE retention:: DESTINATION ${RETENTION_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/retentionConfig.cmake.in
  ${PROJECT_BINARY_DIR}/retentionConfig.cmake INSTALL_DESTINATION ${RETENTION_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_DATADIR)
# 0.x: a minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/retentionConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/retentionConfig.cmake ${PROJECT_BINARY_DIR}/retentionConfigVersion.cmake
  DESTINATION ${RETENTION_CMAKE_DIR})

# pkg-config: static libraries, so their dependencies are public (Requires, not .private).
set(RETENTION_PC_LIBS "-lretention_connectors -lretention_connector_sqlite -lretention_connector_files")
set(RETENTION_PC_REQUIRES "yaml-cpp fmt sqlite3 libcrypto")
if(RETENTION_WITH_POSTGRES)
  string(APPEND RETENTION_PC_LIBS " -lretention_connector_postgres")
  string(APPEND RETENTION_PC_REQUIRES " libpq")
endif()
string(APPEND RETENTION_PC_LIBS " -lretention_engine -lretention_sqlite_handle")
configure_file(${CMAKE_CURRENT_LIST_DIR}/retention.pc.in ${PROJECT_BINARY_DIR}/retention.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/retention.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/policies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/retention/policies)
if(RETENTION_BUILD_CLI)
  install(TARGETS retention RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  if(TARGET retentiond)
    install(TARGETS retentiond RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endif()
