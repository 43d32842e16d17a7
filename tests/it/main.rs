//! The one integration-test binary: runs the `orgops` binary and the emulator for real.

mod action;
mod api_client;
mod apply;
mod apply_integrity;
mod audit;
mod cli;
mod conformance;
mod contract_harness;
mod drift;
mod emulator;
mod emulator_contract;
mod emulator_lists_and_rules;
mod emulator_refusals;
mod export;
mod format;
mod github;
mod inputs;
mod oracle;
mod plan;
mod render_safety;
mod scale;
mod settings;
mod show;
mod support;
mod target;
mod validate;
