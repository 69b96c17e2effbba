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
if(GH_FUZZ)
  add_executable(fuzz_wsframe fuzz/fuzz_wsframe.c)
  target_link_libraries(fuzz_wsframe PRIVATE gh_wsclient)
  target_link_options(fuzz_wsframe PRIVATE -fsanitize=fuzzer)
  set(gh_fuzz_wsf_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz-wsframe)
  add_test(NAME fuzz_wsframe_bounded COMMAND sh -c
    "rm -rf '${gh_fuzz_wsf_dir}' && mkdir -p '${gh_fuzz_wsf_dir}/corpus' && \
     cp '${CMAKE_CURRENT_SOURCE_DIR}'/fuzz/corpus/wsframe/* \
       '${gh_fuzz_wsf_dir}/corpus/' && \
     exec '$<TARGET_FILE:fuzz_wsframe>' -max_total_time=30 -rss_limit_mb=1024 \
       -artifact_prefix='${gh_fuzz_wsf_dir}/' '${gh_fuzz_wsf_dir}/corpus'")
  set_tests_properties(fuzz_wsframe_bounded PROPERTIES LABELS fuzz TIMEOUT 120)
endif()

# Targets declared by DNS name: the resolver threads and which answers a
# name may use (browser sessions and tunnels both go through it).
gh_unit_test(daemon resolve gh_daemon)
