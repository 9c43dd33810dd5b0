//! Integration tests of `testrium-verify`: every rule, properties, and text snapshots.

mod causal;
mod props;
mod rules;
mod snapshots;
mod support;
