//! Testrium configuration: the model of a test group (`config.toml` with a `["Configs"]` table
//! and one `units/<name>.toml` per unit), strict validation with file:line:col diagnostics,
//! builders for harnesses that need no files, discovery of groups under a base folder, and
//! starter templates.
//!
//! Main entry points: [`load_group`] (one folder), [`discover`] (every group under a base
//! folder), [`Group::builder`] (a group built in code, validated the same way) and
//! [`write_template`]. Problems come back as [`Diagnostics`], which print like rustc errors.
//!
//! # Example
//!
//! ```no_run
//! use std::path::Path;
//! use testrium_config::{DiscoverOptions, discover};
//!
//! let found = discover(Path::new("."), &DiscoverOptions::new().exclude(["test_slow"]))?;
//! for group in &found.groups {
//!     println!("{}: {} units", group.name, group.units.len());
//! }
//! for skipped in &found.skipped {
//!     println!("skipped {}: {}", skipped.name, skipped.reason);
//! }
//! if !found.diagnostics.is_empty() {
//!     eprintln!("{}", found.diagnostics);
//! }
//! # Ok::<(), testrium_config::DiscoverError>(())
//! ```
#![warn(missing_docs)]

mod builder;
mod check;
mod diagnostic;
mod discover;
mod launch;
mod load;
mod model;
mod names;
mod parse;
mod source;
mod template;

pub use crate::builder::{GroupBuilder, UnitBuilder};
pub use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
pub use crate::discover::{
    DiscoverError, DiscoverErrorKind, DiscoverOptions, Discovery, SkipReason, Skipped, discover,
};
pub use crate::load::load_group;
pub use crate::model::{Circuit, Group, Hop, InExcept, Launch, LogMode, Settings, Setup, Unit};
pub use crate::source::MAX_CONFIG_FILE_BYTES;
pub use crate::template::{TemplateError, TemplateReport, write_template};
