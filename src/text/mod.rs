//! Text helpers every layer may use: escaping what came from outside before it is shown
//! ([`escape`]), dates ([`time`]), did-you-mean suggestions ([`suggest`]), numbers for people
//! ([`words`]) and hex digests ([`hex`]). They depend on nothing else in the crate.

pub mod escape;
pub mod hex;
pub mod stems;
pub mod suggest;
pub mod time;
pub mod words;
