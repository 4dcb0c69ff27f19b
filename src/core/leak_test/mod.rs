//! The leak test's verdict (`leakproof/test`): floors after each round of calls judged with
//! the detector's statistics ([`super::detect`]), per call instead of per second.

pub mod rounds;
