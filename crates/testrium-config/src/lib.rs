//! Testrium configuration: the model of a test group (`config.toml` with a `["Configs"]` table
//! and one `units/<name>.toml` per unit), strict validation with file:line:col diagnostics,
//! builders for harnesses that need no files, discovery of groups under a base folder, and
//! starter templates.
#![warn(missing_docs)]

mod model;

pub use crate::model::{Circuit, Group, Hop, InExcept, Launch, LogMode, Settings, Setup, Unit};
