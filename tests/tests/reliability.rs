//! The reliability suite (issue 8): every hostile condition Testrium promises to survive —
//! faults and floods, a killed or interrupted runner, scale, concurrency, hostile rows and
//! text, broken configuration — proven end to end with real processes through the real
//! `testrium` binary.
//!
//! Heavy scenarios run reduced by default and at full size with
//! `TESTRIUM_RELIABILITY_FULL=1`. `docs/RELIABILITY.md` is generated from the registry of
//! scenarios (`reliability/registry.rs`); `TESTRIUM_BLESS=1` rewrites it.

mod reliability {
    pub mod faults;
    pub mod input;
    pub mod registry;
    pub mod scale;
    pub mod signals;
    pub mod support;
}
