# The Debian package (cpack -G DEB in the build directory): the two binaries, the
# systemd unit, a default policy as a conffile, man pages made from --help, the README.

set(man_dir ${PROJECT_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${man_dir}/dnsguardd.8.gz ${man_dir}/dnsguardctl.8.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${man_dir}
  COMMAND sh ${PROJECT_SOURCE_DIR}/systemd/help-to-man.sh $<TARGET_FILE:dnsguardd> 8
          "the dnsguard agent: DNS lockdown with nftables" ${man_dir}/dnsguardd.8
  COMMAND sh ${PROJECT_SOURCE_DIR}/systemd/help-to-man.sh $<TARGET_FILE:dnsguardctl> 8
          "control dnsguard agents" ${man_dir}/dnsguardctl.8
  COMMAND gzip -9nf ${man_dir}/dnsguardd.8 ${man_dir}/dnsguardctl.8
  DEPENDS dnsguardd dnsguardctl ${PROJECT_SOURCE_DIR}/systemd/help-to-man.sh
  COMMENT "man pages from --help")
add_custom_target(man_pages ALL DEPENDS ${man_dir}/dnsguardd.8.gz ${man_dir}/dnsguardctl.8.gz)

install(FILES ${man_dir}/dnsguardd.8.gz ${man_dir}/dnsguardctl.8.gz DESTINATION share/man/man8)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/dnsguardd.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/policies/default.toml DESTINATION /etc/dnsguard RENAME policy.toml)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/dnsguard)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/dnsguard/docs)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/policies/ DESTINATION share/doc/dnsguard/examples/policies)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dnsguard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "DNS lockdown for Linux hosts with nftables")
set(CPACK_PACKAGE_DESCRIPTION "dnsguardd compiles a declarative TOML policy into nftables rules in its own
table, applied in one atomic transaction, and inspects DNS queries through NFQUEUE:
block lists, record types, per-client rates and DNS tunneling detection. dnsguardctl
drives one agent over its Unix socket or a fleet over TCP with mutual TLS.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "dnsguard developers <dnsguard@example.org>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # library dependencies from dpkg-shlibdeps
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nftables")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/systemd/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
