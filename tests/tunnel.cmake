# Native-client tunnels and the gatehouse CLI end to end: device login,
# real ssh/scp through proxy and tunnel, refusals, revocation, sshd killed.
# Needs root (an sshd target in a network namespace).
gh_script_test(e2e_tunnel "e2e;root" 420
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/tunnel.mjs)
set_property(TEST e2e_tunnel APPEND PROPERTY ENVIRONMENT
  "GATEHOUSE=$<TARGET_FILE:gatehouse>")
