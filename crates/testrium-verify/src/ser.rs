//! Serialization helpers: durations as seconds, non-finite numbers back from `null`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// A [`Duration`] as a number of seconds (`with = "crate::ser::seconds"`).
pub(crate) mod seconds {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// The nearest nanosecond, so what `serialize` wrote reads back equal; a negative,
    /// non-finite or overflowing number is an error, not a panic.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

pub(crate) fn opt_duration_s<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// A number that may be `null`, read as NaN: JSON has no NaN or infinity, so `serde_json`
/// writes them as `null`, and times from broken clocks (events written straight into the
/// table) carry them into a verdict.
pub(crate) fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// `skip_serializing_if` for counts written only when not 0.
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A [`testrium_config::Delivery`] as its config text (`at-least-once`).
pub(crate) fn delivery<S: Serializer>(
    d: &testrium_config::Delivery,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.as_str())
}
