//! The one integration-test binary: runs the `orgops` binary and the emulator for real.

mod api_client;
mod support;
