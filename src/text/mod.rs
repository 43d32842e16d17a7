//! Text helpers every layer may use: escaping what came from outside before it is shown
//! ([`escape`]), dates ([`time`]), did-you-mean suggestions ([`suggest`]) and numbers for people
//! ([`words`]). They depend on nothing else in the crate.

pub mod escape;
pub mod stems;
pub mod suggest;
pub mod time;
pub mod words;
