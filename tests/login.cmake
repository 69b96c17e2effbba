# gatehousectl login/logout/status, the token cache and the device grant
# (gh_cli): a unit test of the cache, and the end-to-end test against real
# gatehoused processes and the test IdP.
gh_unit_test(cli tokencache gh_cli)
gh_unit_test(cli loopback gh_cli Threads::Threads)
gh_script_test(e2e_gatehousectl_login "e2e" 240
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/gatehousectl-login.mjs)
