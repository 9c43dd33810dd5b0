//! The group's Python direct tests (`test_*` functions), run after the units phase in one
//! process, bounded by the group timeout.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use testrium_verify::{DirectTest, UnitStatus};

use super::{LOG_TAIL_LINES, Supervisor, TICK};
use crate::error::RunError;
use crate::event::RunEvent;
use crate::logs::read_tail;
use crate::process::{self, Exit, Process, stop_processes};
use crate::python;

/// The direct-tests process's log in `logs/`.
const DIRECT_TESTS_LOG: &str = "_direct-tests.log";

impl Supervisor<'_> {
    /// Runs the direct tests, if the group has any; then the fork server, which has nothing
    /// left to start, stops.
    pub(super) fn direct_tests(
        &mut self,
        units_phase: Duration,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<Option<Vec<DirectTest>>, RunError> {
        let tests = self.run_direct_tests(units_phase, observer);
        self.stop_fork_server();
        tests
    }

    fn run_direct_tests(
        &mut self,
        units_phase: Duration,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<Option<Vec<DirectTest>>, RunError> {
        if self.interrupted || !self.needs_direct_tests() {
            return Ok(None);
        }
        observer(&RunEvent::DirectTestsStarted);
        let (input_path, output_path) = self.direct_tests_paths();
        let mut input = python::DirectTestsInput::from_group(self.group(), &self.dir.db);
        if !self.sched.units.is_empty() {
            let passed = self.sched.units.iter().all(|s| {
                matches!(
                    s.status,
                    Some(UnitStatus::Finished | UnitStatus::Stopped | UnitStatus::NotStarted)
                )
            });
            let details = self
                .sched
                .units
                .iter()
                .filter(|s| s.first_started.is_some())
                .map(|s| {
                    let status = s.status.unwrap_or(UnitStatus::Failed);
                    python::UnitDetail {
                        name: s.unit.name.clone(),
                        passed: matches!(status, UnitStatus::Finished | UnitStatus::Stopped),
                        status: status.as_str().to_owned(),
                        exitcode: s.exit.and_then(|exit| match exit {
                            Exit::Code(code) => Some(code),
                            Exit::Signal(signal) => Some(-signal),
                            Exit::Lost => None,
                        }),
                    }
                })
                .collect();
            input = input.prior_result(
                python::PriorResult::new("unit_processes", passed, units_phase)
                    .with_details(details),
            );
        }
        if let Err(e) = input.write(&input_path) {
            return Ok(Some(vec![DirectTest::failed(
                "direct tests",
                0.0,
                testrium_config::error_chain(&e),
            )]));
        }
        let log = self.dir.logs.join(DIRECT_TESTS_LOG);
        let started = Instant::now();
        // Started ahead and released by the input file just written; else started now.
        let prewarmed = self
            .tests_prewarmed
            .take()
            .and_then(|mut process| matches!(process.try_wait(), Ok(None)).then_some(process));
        let spawned = match prewarmed {
            Some(process) => Ok(process),
            None => self.direct_tests_process(false),
        };
        let mut process = match spawned {
            Ok(process) => process,
            Err(message) => {
                return Ok(Some(vec![DirectTest::failed(
                    "direct tests",
                    0.0,
                    format!("could not be started: {message}"),
                )]));
            }
        };
        let deadline = started + self.group_timeout();
        let mut timed_out = false;
        loop {
            match process.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) => {}
            }
            if self.ctx.cancel.is_cancelled() {
                self.interrupted = true;
                break;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            if self.ctx.options.stream_output {
                self.stream_output(observer);
            }
            let _ = process::wait_any([&process], TICK * 10);
        }
        let grace = self.grace();
        stop_processes(&mut [&mut process], grace);
        let seconds = started.elapsed().as_secs_f64();
        if timed_out {
            return Ok(Some(vec![DirectTest::failed(
                "direct tests",
                seconds,
                format!(
                    "did not finish within {}",
                    testrium_verify::fmt_seconds(self.group_timeout().as_secs_f64())
                ),
            )]));
        }
        match python::parse_direct_results(&output_path) {
            Ok(tests) => Ok(Some(
                tests
                    .into_iter()
                    .map(|t| {
                        let seconds = t.duration.as_secs_f64();
                        match (t.passed, t.message) {
                            (true, _) => DirectTest::passed(t.name, seconds),
                            (false, message) => DirectTest::failed(
                                t.name,
                                seconds,
                                message.unwrap_or_else(|| "failed".to_owned()),
                            ),
                        }
                    })
                    .collect(),
            )),
            Err(e) => {
                let mut message = testrium_config::error_chain(&e);
                let tail = read_tail(&log, LOG_TAIL_LINES);
                if !tail.is_empty() {
                    message.push('\n');
                    message.push_str(&tail.join("\n"));
                }
                Ok(Some(vec![DirectTest::failed(
                    "direct tests",
                    seconds,
                    message,
                )]))
            }
        }
    }

    pub(super) fn needs_direct_tests(&self) -> bool {
        let dir = &self.group().dir;
        dir.is_dir() && python::needs_direct_tests(dir)
    }

    pub(super) fn direct_tests_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path.join("direct-tests-input.json"),
            self.dir.path.join("direct-tests-results.json"),
        )
    }

    /// Starts the direct-tests process; `gated`: ahead of time, waiting for its input file.
    pub(super) fn direct_tests_process(&mut self, gated: bool) -> Result<Process, String> {
        let group_dir = self.group().dir.clone();
        let (input_path, output_path) = self.direct_tests_paths();
        let log = self.dir.logs.join(DIRECT_TESTS_LOG);
        let mut command = self.python().map(|python| {
            if gated {
                python.direct_tests_command_gated(&group_dir, &input_path, &output_path)
            } else {
                python.direct_tests_command(&group_dir, &input_path, &output_path)
            }
        })?;
        // The original ran direct tests inside the runner, whose working directory was the
        // base folder (`testrium run` started there): paths in tests are relative to it.
        let cwd = std::path::absolute(self.ctx.base).unwrap_or_else(|_| self.ctx.base.to_owned());
        self.prepare(&mut command, None, &cwd, &log)?;
        let fork = !gated && self.group().settings.python_fork;
        self.spawn_python(None, fork, command, &log)
    }
}
