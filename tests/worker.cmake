# Tests of gateway/worker/: the per-session worker (gatehouse-worker) and
# its spawner. Included from tests/CMakeLists.txt.

# Unit (cmocka): the wire format and link reader the worker uses, the
# worker's queue and reads, its sandbox, and the spawner.
gh_unit_test(worker frame gh_core)
gh_unit_test(worker link gh_worker_proc)
gh_unit_test(worker sandbox gh_worker_proc)
target_include_directories(unit_worker_sandbox PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/unit)
# The spawner's test starts this probe in place of the worker.
add_executable(worker_spawn_probe unit/worker/spawn_probe.c)
gh_unit_test(worker spawn gh_worker)
target_compile_definitions(unit_worker_spawn PRIVATE
  GH_SPAWN_PROBE="$<TARGET_FILE:worker_spawn_probe>")
add_dependencies(unit_worker_spawn worker_spawn_probe)

# Integration: the real worker against real sshd targets in network
# namespaces (tests/harness/target), driven over fd 3 as the broker would.
gh_script_test(integration_worker_ssh "integration;root" 300
  node ${CMAKE_CURRENT_SOURCE_DIR}/integration/worker-ssh.mjs)
set_property(TEST integration_worker_ssh APPEND PROPERTY ENVIRONMENT
  "GATEHOUSE_WORKER=$<TARGET_FILE:gatehouse-worker>")

# libFuzzer (-DGH_FUZZ=ON, clang): frames, RESIZE and the link reader.
if(GH_FUZZ)
  add_executable(fuzz_frame fuzz/fuzz_frame.c)
  target_link_libraries(fuzz_frame PRIVATE gh_core)
  target_link_options(fuzz_frame PRIVATE -fsanitize=fuzzer)
  set(gh_fuzz_frame_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz-frame)
  add_test(NAME fuzz_frame_bounded COMMAND sh -c
    "rm -rf '${gh_fuzz_frame_dir}' && mkdir -p '${gh_fuzz_frame_dir}/corpus' && \
     cp '${CMAKE_CURRENT_SOURCE_DIR}'/fuzz/corpus/frame/* \
       '${gh_fuzz_frame_dir}/corpus/' && \
     exec '$<TARGET_FILE:fuzz_frame>' -max_total_time=30 -rss_limit_mb=1024 \
       -artifact_prefix='${gh_fuzz_frame_dir}/' '${gh_fuzz_frame_dir}/corpus'")
  set_tests_properties(fuzz_frame_bounded PROPERTIES LABELS fuzz TIMEOUT 120)
endif()
