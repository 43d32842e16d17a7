//! Text helpers every layer may use: escaping what came from outside before it is shown
//! ([`escape`]), dates ([`time`]) and did-you-mean suggestions ([`suggest`]). They depend on nothing else in the crate.

pub mod escape;
pub mod suggest;
pub mod time;
