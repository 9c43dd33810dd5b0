//! The runner's remote probe API (`TESTRIUM_EVENT_URL`), for units that have no database
//! path: [`Probe`](crate::Probe) records with `POST /v1/probes` and waits with
//! `GET /v1/wait` (documented in docs/CONFIG.md, "The probe API over HTTP"). Plain HTTP
//! through `ureq` without TLS (put a TLS-terminating proxy in front of a runner on an
//! untrusted network).

use std::time::Duration;

use crate::error::{ProbeError, ProbeErrorKind};
use crate::event::Event;
use crate::probe::ProbeRecord;
use crate::sys::unix_time;

/// Longer than the longest wait the runner grants (300 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(330);

pub(crate) struct Remote {
    url: String,
    token: String,
    agent: ureq::Agent,
}

impl Remote {
    pub(crate) fn new(url: &str, token: &str) -> Remote {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .into();
        Remote {
            url: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            agent,
        }
    }

    fn error(&self, message: impl Into<String>) -> ProbeError {
        ProbeErrorKind::Remote {
            url: self.url.clone(),
            message: message.into(),
        }
        .into()
    }

    /// The answer's JSON, or an error with its status and text.
    fn answer(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<serde_json::Value, ProbeError> {
        let mut response = result.map_err(|e| self.error(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.error(e.to_string()))?;
        if status != 200 {
            return Err(self.error(format!("answered {status}: {}", text.trim())));
        }
        serde_json::from_str(&text).map_err(|e| self.error(format!("bad answer: {e}")))
    }

    pub(crate) fn record(
        &self,
        unit: &str,
        pid: i64,
        record: &ProbeRecord,
    ) -> Result<i64, ProbeError> {
        let body = serde_json::json!({
            "unit": unit,
            "step": record.step,
            "type": record.event_type.as_str(),
            "key": record.key,
            "cause": record.cause,
            "metadata": record.metadata,
            "time": unix_time(),
            "pid": pid,
        });
        let result = self
            .agent
            .post(format!("{}/v1/probes", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .content_type("application/json")
            .send(body.to_string());
        let answer = self.answer(result)?;
        answer["id"]
            .as_i64()
            .ok_or_else(|| self.error("the answer has no `id`"))
    }

    pub(crate) fn wait_for_event(
        &self,
        unit: &str,
        step: &str,
        key: Option<&str>,
        timeout: Duration,
    ) -> Result<Option<Event>, ProbeError> {
        let mut request = self
            .agent
            .get(format!("{}/v1/wait", self.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .query("unit", unit)
            .query("step", step)
            .query("timeout_ms", timeout.as_millis().to_string());
        if let Some(key) = key {
            request = request.query("key", key);
        }
        let answer = self.answer(request.call())?;
        if answer["found"] != serde_json::Value::Bool(true) {
            return Ok(None);
        }
        serde_json::from_value(answer["event"].clone())
            .map(Some)
            .map_err(|e| self.error(format!("bad event in the answer: {e}")))
    }
}
