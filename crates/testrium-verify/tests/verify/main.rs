//! Integration tests of `testrium-verify`: every rule, properties, and text snapshots.

mod props;
mod rules;
mod snapshots;
mod support;
