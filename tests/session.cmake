# Browser sessions end to end: broker, worker, recordings, enforcement.
# Needs root (sshd targets in network namespaces).
gh_script_test(e2e_ssh_session "e2e;root" 300
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ssh-session.mjs)
# The browser client in headless Chromium: every page under the CSP, the
# frame protocol's UI, the player (web-pages); the terminal against the
# real broker, worker and an sshd target, and playback (web-terminal).
gh_script_test(e2e_web_pages "e2e" 240
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/web-pages.mjs)
gh_script_test(e2e_web_terminal "e2e;root" 300
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/web-terminal.mjs)
gh_script_test(e2e_web_firefox "e2e" 240
  node ${CMAKE_CURRENT_SOURCE_DIR}/e2e/web-firefox.mjs)
