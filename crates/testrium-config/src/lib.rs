//! Testrium configuration: the model of a test group (`config.toml` with a `["Configs"]` table
//! and one `units/<name>.toml` per unit), strict validation with file:line:col diagnostics,
//! builders for harnesses that need no files, discovery of groups under a base folder, and
//! starter templates.
//!
//! Main entry points: [`load_group`] (one folder), [`discover`] (every group under a base
//! folder), [`Group::builder`] (a group built in code, validated the same way) and
//! [`write_template`]. Problems come back as [`Diagnostics`], which print like rustc errors.
//! Also the pieces every Testrium crate shares: [`find_cycles`] (the one dependency-cycle
//! finder; [`Group::dependency_cycle`] uses it), [`escape_text`] (the one escaper of text that
//! came from files or units) and [`error_chain`] (an error and its causes on one line).
//!
//! # Features
//!
//! - `toml` (default): reading groups from files — [`load_group`], [`discover`] and their
//!   error types; pulls in the `toml` parser.
//!
//! Without default features the crate is the model ([`Group`], [`Unit`], [`Circuit`], …), the
//! builders with the full validation, [`Diagnostics`], the templates and the shared text and
//! graph helpers, on `indexmap`, `strsim` and `thiserror` only: what a crate that only names
//! groups (such as `testrium-verify`) or builds them in code needs. No graph library either
//! way.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "toml")]
//! # fn main() -> Result<(), testrium_config::DiscoverError> {
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
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "toml"))]
//! # fn main() {}
//! ```
//!
//! Built in code, with any feature set:
//!
//! ```
//! use testrium_config::{Group, Unit};
//!
//! let group = Group::builder("test_echo", "/tmp/test_echo")
//!     .unit(Unit::command("server", ["./server"]).init(1).ready_event("listening"))
//!     .unit(Unit::command("client", ["./client"]).init(2).depends_on(["server"]))
//!     .build()?;
//! assert_eq!(group.enabled_units().count(), 2);
//! assert_eq!(group.dependency_cycle(), None);
//! # Ok::<(), testrium_config::Diagnostics>(())
//! ```
#![warn(missing_docs)]

mod builder;
mod check;
mod diagnostic;
#[cfg(feature = "toml")]
mod discover;
mod graph;
#[cfg(feature = "toml")]
mod launch;
#[cfg(feature = "toml")]
mod load;
mod model;
mod names;
#[cfg(feature = "toml")]
mod parse;
mod placeholder;
mod source;
mod template;
mod text;

pub use crate::builder::{GroupBuilder, UnitBuilder};
pub use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
#[cfg(feature = "toml")]
pub use crate::discover::{
    DiscoverError, DiscoverErrorKind, DiscoverOptions, Discovery, SkipReason, Skipped, discover,
};
pub use crate::graph::find_cycles;
#[cfg(feature = "toml")]
pub use crate::load::load_group;
pub use crate::model::{
    Circuit, Contract, Delivery, Fault, FaultAction, Group, Hop, InExcept, Launch, LogMode,
    ProbeRef, ReadyCheck, Settings, Setup, Unit,
};
pub use crate::placeholder::{PlaceholderError, expand_placeholders};
pub use crate::source::MAX_CONFIG_FILE_BYTES;
pub use crate::template::{TemplateError, TemplateReport, write_template};
pub use crate::text::{error_chain, escape_text, needs_escape};
