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
# reader/player (arbitrary files). Same pattern as fuzz_jwt.
if(GH_FUZZ)
  add_executable(fuzz_cast fuzz/fuzz_cast.c)
  target_link_libraries(fuzz_cast PRIVATE gh_recording gh_core)
  target_link_options(fuzz_cast PRIVATE -fsanitize=fuzzer)
  set(gh_fuzz_cast_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz-cast)
  add_test(NAME fuzz_cast_bounded COMMAND sh -c
    "rm -rf '${gh_fuzz_cast_dir}' && mkdir -p '${gh_fuzz_cast_dir}/corpus' && \
     cp '${CMAKE_CURRENT_SOURCE_DIR}'/fuzz/corpus/cast/* \
       '${gh_fuzz_cast_dir}/corpus/' && \
     exec '$<TARGET_FILE:fuzz_cast>' -max_total_time=30 -rss_limit_mb=1024 \
       -artifact_prefix='${gh_fuzz_cast_dir}/' '${gh_fuzz_cast_dir}/corpus'")
  set_tests_properties(fuzz_cast_bounded PROPERTIES LABELS fuzz TIMEOUT 120)
endif()
