//! Integration tests of `testrium-verify`: every rule, properties, and text snapshots.

mod rules;
mod support;
