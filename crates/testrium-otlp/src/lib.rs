//! Testrium OTLP receiver: OpenTelemetry spans sent over OTLP/HTTP become probes in a run
//! database, so a unit instrumented only with an OpenTelemetry SDK records probes without a
//! line of Testrium code.
//!
//! [`Receiver`] serves `POST /v1/traces` (protobuf or JSON, optionally gzip, bodies up to
//! [`DEFAULT_MAX_BODY`]) on a port of its own, checks the per-run bearer token
//! ([`random_token`]) on every request, and writes each span as rows of the `Events` table:
//! a probe of the unit its `service.name` names ([`UnitMap`]), step = span name, at the span's
//! start; Producer/Client spans are Sends keyed by their span context (`trace-span` in hex),
//! Server/Consumer spans with a remote parent or links are the matching Receives; status ERROR
//! adds an Exception; attributes go into the metadata. The full mapping is documented in
//! `docs/CONFIG.md`. Bad input gets a 4xx answer and is counted in [`ReceiverStats`]; it never
//! stops the receiver.
//!
//! The HTTP server is `tiny_http` on two threads of its own (no async runtime); the wire types
//! are `opentelemetry-proto`'s prost messages. Units never link this crate.
//!
//! # Example
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use testrium_otlp::{Receiver, ReceiverOptions, UnitMap, random_token};
//!
//! let units = UnitMap::new().unit("api", None, false).unit("worker", Some("jobs"), true);
//! let receiver = Receiver::start(
//!     std::path::Path::new("Data.db"),
//!     ReceiverOptions::new(random_token()?, units),
//! )?;
//! println!("OTEL_EXPORTER_OTLP_ENDPOINT={}", receiver.endpoint());
//! let stats = receiver.stop();
//! println!("{} spans, {} warnings", stats.spans, stats.warnings.len());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod map;
mod probe_api;
mod server;

pub use crate::map::{UnitMap, span_context};
pub use crate::server::{
    DEFAULT_MAX_BODY, Receiver, ReceiverError, ReceiverOptions, ReceiverStats, random_token,
};
