//! The one integration-test binary: runs the `orgops` binary and the emulator for real.

mod api_client;
mod apply;
mod contract_harness;
mod emulator;
mod emulator_contract;
mod emulator_lists_and_rules;
mod plan;
mod support;
mod validate;
