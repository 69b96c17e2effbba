# Tests of recording/ (gh_recording) and the gatehousectl recording verbs.
# Included from tests/CMakeLists.txt.

gh_unit_test(recording cast_write gh_recording)
gh_unit_test(recording cast_read gh_recording)
gh_unit_test(recording cast_play gh_recording)

# A writer for the script tests: tests/integration/recording/.
add_executable(cast_tool integration/recording/cast-tool.c)
target_link_libraries(cast_tool PRIVATE gh_recording)

gh_script_test(integration_recording_crash "integration" 120
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/recording/crash.sh
  $<TARGET_FILE:cast_tool>)
gh_script_test(integration_gatehousectl_recordings "integration" 120
  ${CMAKE_CURRENT_SOURCE_DIR}/integration/recording/ctl-recordings.sh
  $<TARGET_FILE:cast_tool>)

# Benchmark (run by hand, never a test): writer throughput.
add_executable(bench_cast bench/cast.c)
target_link_libraries(bench_cast PRIVATE gh_recording)

# libFuzzer target: writer (arbitrary bytes in arbitrary chunks) and
# reader/player (arbitrary files).
gh_fuzz_target(fuzz_cast cast gh_recording gh_core)
