# Native-client tunnels and the gatehouse CLI end to end: device login,
# real ssh/scp through proxy and tunnel, refusals, revocation, sshd killed.
# Needs root (an sshd target in a network namespace).
gh_script_test(e2e_tunnel "e2e;root" 420
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/tunnel.mjs)
set_property(TEST e2e_tunnel APPEND PROPERTY ENVIRONMENT
  "GATEHOUSE=$<TARGET_FILE:gatehouse>")

# The CLI's own WebSocket client: its framing (unit and fuzz) and the
# connection against a scripted server for what the gateway never does.
gh_unit_test(cli wsframe gh_wsclient)
gh_unit_test(cli wsclient gh_wsclient)
gh_fuzz_target(fuzz_wsframe wsframe gh_wsclient)

# Targets declared by DNS name: the resolver threads and which answers a
# name may use (browser sessions and tunnels both go through it).
gh_unit_test(daemon resolve gh_daemon)
