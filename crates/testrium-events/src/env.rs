//! The environment contract between the runner and the units it starts. Defined once, here.

/// Path of the run database; every probe client writes there when it is set.
pub const ENV_EVENT_DB: &str = "TESTRIUM_EVENT_DB";
/// Name of the unit the process runs as.
pub const ENV_UNIT: &str = "TESTRIUM_UNIT";
/// The run directory (`<base>/.testrium/runs/<group>-<id>/`).
pub const ENV_RUN_DIR: &str = "TESTRIUM_RUN_DIR";
/// The test group's name.
pub const ENV_GROUP: &str = "TESTRIUM_GROUP";
/// The run's bearer token: every request to the runner's OTLP receiver and remote probe API
/// carries `Authorization: Bearer <token>`.
pub const ENV_TOKEN: &str = "TESTRIUM_TOKEN";
/// The runner's remote probe API (`http://host:port`), for units that have no database path:
/// probe clients send and wait over HTTP there when it is set instead of [`ENV_EVENT_DB`].
pub const ENV_EVENT_URL: &str = "TESTRIUM_EVENT_URL";
