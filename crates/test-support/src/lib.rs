//! Test-only helpers: mock AWS server and temp-HOME process runners.
