//! The standard-library-only Python probe client, kept as a file in this crate so the runner
//! can hand it to Python units without any install step.

/// Source of `testrium/modules/events.py`: `Events_Manager`, `UnitStatus_Manager`,
/// `Results_Manager` with the original Python Testrium API, writing the same rows (and the
/// new columns) as [`Probe`](crate::Probe). Standard library only.
pub const PYTHON_EVENTS_MODULE: &str = include_str!("../python/testrium/modules/events.py");
