# gatehousectl login/logout/status, the token cache and the device grant
# (gh_cli): a unit test of the cache, and the end-to-end test against real
# gatehoused processes and the test IdP.
gh_unit_test(cli tokencache gh_cli)
gh_unit_test(cli loopback gh_cli Threads::Threads)
gh_script_test(e2e_gatehousectl_login "e2e" 240
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/gatehousectl-login.mjs)

# gatehouse login --browser with the real peers: the CLI starts headless
# Chromium (through $BROWSER), which signs in at the test IdP and comes
# back to the CLI's loopback listener.
gh_script_test(e2e_cli_browser_login "e2e" 180
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cli-browser-login.mjs)
set_property(TEST e2e_cli_browser_login APPEND PROPERTY ENVIRONMENT
  "GATEHOUSE=$<TARGET_FILE:gatehouse>")
