//! The attempt's OTLP receiver: started before the units (they get its address and token in
//! their environment), told to the scheduler while it answers, stopped after teardown so
//! spans flushed during the grace period still count.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testrium_events::{ENV_EVENT_URL, ENV_TOKEN};
use testrium_otlp::{Receiver, ReceiverOptions, UnitMap, random_token};
use testrium_verify::{Warning, WarningKind};

use super::{Context, Supervisor};
use crate::error::{RunError, RunErrorKind};
use crate::rundir::RunDir;

/// `OTEL_BSP_SCHEDULE_DELAY` exported to the units, in milliseconds: how long an SDK's batch
/// span processor waits before it exports.
pub(crate) const BSP_SCHEDULE_DELAY_MS: u64 = 100;

/// The settle period once spans arrived: two batch delays and a margin for the export itself.
pub(crate) const SPAN_SETTLE: Duration = Duration::from_millis(2 * BSP_SCHEDULE_DELAY_MS + 50);

/// Starts the receiver of the attempt and writes its token to `token` in the run directory.
pub(super) fn start(ctx: &Context<'_>, dir: &RunDir) -> Result<Receiver, RunError> {
    let err = |message: String| RunError::new(&ctx.group.name, RunErrorKind::Receiver { message });
    let mut units = UnitMap::new();
    for unit in ctx.group.units.values().filter(|u| u.enabled) {
        units = units.unit(&unit.name, unit.otel_service.as_deref(), unit.otel_span_end);
    }
    let token = match std::env::var(ENV_TOKEN) {
        // Set by the user for services that outlive a run (configured once with the token).
        Ok(token) if !token.is_empty() => chosen_token(token).map_err(err)?,
        _ => random_token().map_err(|e| err(format!("no random token: {e}")))?,
    };
    write_token(&dir.path.join("token"), &token)
        .map_err(|e| err(format!("cannot write `token` in the run directory: {e}")))?;
    let mut options = ReceiverOptions::new(token, units);
    if let Some(addr) = ctx.options.listen {
        options = options.listen(addr);
    }
    Receiver::start(&dir.db, options).map_err(|e| err(testrium_config::error_chain(&e)))
}

/// A token the user chose (`TESTRIUM_TOKEN` in the runner's environment): at least 16
/// characters from `A-Z a-z 0-9 - . _ ~`, so that it is not guessed and goes into
/// `OTEL_EXPORTER_OTLP_HEADERS` and an `Authorization` header as it is.
fn chosen_token(token: String) -> Result<String, String> {
    let valid = token.len() >= 16
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if valid {
        Ok(token)
    } else {
        Err(format!(
            "{ENV_TOKEN} in the runner's environment must be at least 16 characters from \
             A-Z a-z 0-9 - . _ ~ (it is {} characters); unset it for a random token per attempt",
            token.chars().count()
        ))
    }
}

/// The token file, readable by its owner only.
fn write_token(path: &Path, token: &str) -> std::io::Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open.open(path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")
}

impl Supervisor<'_> {
    /// The OpenTelemetry variables of a process of the run: where to export, how, as which
    /// service, with which token. A unit's `env` (set after) can override them.
    pub(super) fn otlp_env(&self, command: &mut Command, unit: Option<&str>) {
        let Some(receiver) = &self.otlp else {
            return;
        };
        let token = receiver.token();
        command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            // The header list is URL-encoded (W3C baggage format): `%20` is the space.
            .env(
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("Authorization=Bearer%20{token}"),
            )
            .env("OTEL_BSP_SCHEDULE_DELAY", BSP_SCHEDULE_DELAY_MS.to_string())
            // The remote probe API (units with a database path keep using it).
            .env(ENV_EVENT_URL, receiver.endpoint())
            .env(ENV_TOKEN, token);
        if let Some(name) = unit {
            let service = self
                .group()
                .units
                .get(name)
                .and_then(|u| u.otel_service.as_deref())
                .unwrap_or(name);
            command.env("OTEL_SERVICE_NAME", service);
        }
    }

    /// Tells the scheduler when the receiver answered a request since the last look (or is
    /// answering one).
    pub(super) fn poll_receiver(&mut self) {
        let Some(receiver) = &self.otlp else {
            return;
        };
        let last = receiver.last_request();
        if receiver.busy() || last != self.otlp_seen {
            self.otlp_seen = last;
            self.sched.spans_received(Instant::now());
        }
    }
}

/// What a receiver stopped after teardown (spans flushed at SIGTERM are in) gives the
/// verdict: its warnings, and the SERVER/CONSUMER spans that started traces of their own, by
/// unit ([`context_lost_warnings`]).
pub(super) fn receiver_results(
    stats: Option<testrium_otlp::ReceiverStats>,
) -> (Vec<Warning>, Vec<(String, u64)>) {
    let Some(stats) = stats else {
        return (Vec::new(), Vec::new());
    };
    let warnings = stats
        .warnings
        .into_iter()
        .map(|w| Warning::new(WarningKind::OtlpInput, w))
        .collect();
    (warnings, stats.root_entries)
}

/// When sends went unanswered: one warning per unit whose SERVER/CONSUMER spans started
/// traces of their own (no parent, no link) — if they handled those calls, the caller's trace
/// context did not reach them, the most common reason an instrumented call is not paired.
pub(super) fn context_lost_warnings(
    verdict: &testrium_verify::Verdict,
    root_entries: &[(String, u64)],
) -> Vec<Warning> {
    let orphans = verdict
        .failures()
        .iter()
        .any(|f| f.kind == testrium_verify::FailureKind::OrphanSend);
    if !orphans {
        return Vec::new();
    }
    root_entries
        .iter()
        .map(|(unit, n)| {
            Warning::new(
                WarningKind::OtlpInput,
                format!(
                    "unit `{unit}`: {n} SERVER/CONSUMER span(s) started a trace of their own \
                     (no parent, no link) while sends went unanswered: if they handled those \
                     calls, the caller's trace context did not reach them (send the W3C \
                     `traceparent` header and read it case-insensitively, e.g. \
                     `propagate.extract(self.headers)`, not `dict(self.headers)`)"
                ),
            )
            .unit(unit)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use testrium_verify::{Failure, FailureKind, Verdict};

    use super::*;

    #[test]
    fn a_token_chosen_by_the_user_must_be_long_and_plain() {
        let good = "ci-staging_token.0123456789~";
        assert_eq!(chosen_token(good.to_owned()).as_deref(), Ok(good));
        let short = chosen_token("abc".to_owned()).expect_err("too short");
        assert!(
            short.starts_with("TESTRIUM_TOKEN in the runner's environment must be at least 16"),
            "{short}"
        );
        assert!(chosen_token("a token with spaces 0123".to_owned()).is_err());
    }

    #[test]
    fn lost_trace_context_is_named_only_when_sends_went_unanswered() {
        let roots = [("worker".to_owned(), 5)];
        let mut verdict = Verdict::default();
        assert!(context_lost_warnings(&verdict, &roots).is_empty());
        verdict.add_failure(Failure::new(
            FailureKind::OrphanSend,
            "`gateway:call worker` sent key `k` that was never received",
        ));
        let warnings = context_lost_warnings(&verdict, &roots);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].message.starts_with(
                "unit `worker`: 5 SERVER/CONSUMER span(s) started a trace of their own"
            ),
            "{}",
            warnings[0].message
        );
        assert!(context_lost_warnings(&verdict, &[]).is_empty());
    }
}
