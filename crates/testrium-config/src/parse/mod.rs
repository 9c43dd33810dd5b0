//! Stage one: TOML text to typed drafts. Every value is checked for its type and range where it
//! is written; a wrong value is reported with its span and replaced by the default, so the
//! group-level checks still run and every problem is reported at once.

mod config;
mod contract;
mod fault;
mod reader;
mod unit;

pub(crate) use self::config::{ConfigDraft, parse_config};
pub(crate) use self::reader::Reader;
pub(crate) use self::unit::parse_unit;
