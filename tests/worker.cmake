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
gh_fuzz_target(fuzz_frame frame gh_core)
