//! The end of an attempt: the whole sequence from setup to storage ([`Supervisor::run_all`]),
//! the verification of every recorded row, the outcome and its storage in the run database.

use std::time::{Duration, Instant};

use testrium_events::{UnitState, monotonic_ns};
use testrium_verify::{
    DirectTest, Failure, FailureKind, GroupTiming, UnitFailure, UnitOutcome, UnitStatus, Verifier,
    WarningKind,
};

use super::scheduler::Scheduler;
use super::{
    LOG_TAIL_LINES, OUTCOME_META_KEY, SWEEP_DEADLINE, Supervisor, VERDICT_META_KEY, unix_now,
};
use crate::error::{RunError, RunErrorKind};
use crate::event::RunEvent;
use crate::logs::{has_traceback, read_tail};
use crate::outcome::{AttemptOutcome, AttemptTimings, EndReason, FaultOutcome, StoredOutcome};
use crate::process::{self, Exit, stop_processes};
use crate::sample::EventSample;

/// How long the runner waits for its watchdog to acknowledge a clean end.
const WATCHDOG_STAND_DOWN: Duration = Duration::from_millis(100);

impl<'a> Supervisor<'a> {
    pub(super) fn run_all(
        &mut self,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<AttemptOutcome, RunError> {
        self.ports = super::ports::Ports::allocate(self.group()).map_err(|message| {
            RunError::new(&self.group().name, RunErrorKind::Ports { message })
        })?;
        for slot in &self.sched.units {
            self.record_state(&slot.unit.name, UnitState::Created);
        }
        self.flush_states()?;
        if !self.sched.units.is_empty() || self.group().setup.is_some() {
            // Best effort: without a watchdog (it could not be forked), descendants of a
            // SIGKILLed runner's units are killed by the next run's sweep instead.
            let cgroup = self.cgroup.as_ref().map(process::AttemptCgroup::path);
            self.watchdog = process::Watchdog::start(&self.marker, cgroup).ok();
        }
        // Leftovers of dead runners are gone before anything of this attempt starts.
        self.ctx.startup.wait();
        self.start_setup(observer);
        self.prewarm();
        let end = self.supervise(observer)?;
        let units_phase = self.since();
        let mut ended_unix_s = unix_now();
        let mut ended_mono_ns = monotonic_ns();
        observer(&RunEvent::TeardownStarted { reason: end });
        let teardown_start = Instant::now();
        self.teardown_units(end, observer)?;
        let teardown = teardown_start.elapsed();
        if self.ctx.options.stream_output {
            self.flush_output(observer);
        }
        let direct_start = Instant::now();
        let direct_tests = self.direct_tests(units_phase, observer)?;
        let direct_time = direct_tests.as_ref().map(|_| direct_start.elapsed());
        if direct_tests.is_some() {
            // Test functions are part of the group (they may record probes, e.g. for passive
            // units): what they record is not late.
            ended_unix_s = unix_now();
            ended_mono_ns = monotonic_ns();
        }
        // Never released (interrupted): it has no work to do.
        if let Some(mut unreleased) = self.tests_prewarmed.take() {
            stop_processes(&mut [&mut unreleased], Duration::ZERO);
        }
        self.teardown_setup();
        // Every unit is gone: what their exporters flushed at SIGTERM is in. The receiver
        // stops (its threads joined) on a thread of its own while the leftovers are swept.
        let receiver = self.otlp.take();
        let (swept, stats) = std::thread::scope(|scope| {
            let stopping = receiver.map(|receiver| {
                let stop = move || receiver.stop();
                std::thread::Builder::new()
                    .name("testrium-otlp-stop".to_owned())
                    .spawn_scoped(scope, stop)
            });
            // The processes still carrying the attempt's marker (daemons, `setsid` children)
            // are looked for in all of /proc (0.3-0.5 ms here) on a thread of its own, while
            // the cgroup is emptied and adopted orphans are looked for here.
            let marker = self.marker.as_str();
            let marked = std::thread::Builder::new()
                .name("testrium-sweep-end".to_owned())
                .spawn_scoped(scope, move || {
                    process::kill_marked(marker, Instant::now() + SWEEP_DEADLINE).len()
                });
            let mut swept = self.kill_cgroup();
            if let Some(guard) = self.in_flight.take() {
                swept += guard.finish();
            }
            swept += match marked {
                Ok(handle) => handle.join().unwrap_or(0),
                Err(_) => process::kill_marked(marker, Instant::now() + SWEEP_DEADLINE).len(),
            };
            if let Some(mut watchdog) = self.watchdog.take() {
                watchdog.stand_down(WATCHDOG_STAND_DOWN);
            }
            let stats = match stopping {
                Some(Ok(handle)) => handle.join().ok(),
                // No thread (the receiver was moved into the closure and dropped with it,
                // which stops it too): no stats.
                Some(Err(_)) | None => None,
            };
            (swept, stats)
        });
        self.killed = true;
        let (otlp_warnings, root_entries) = super::otlp::receiver_results(stats);
        // Every unit is gone, so is any lock one of them held.
        let locked = self.flush_states()?;

        // The rows read while the run was live are in the verifier already: only the tail
        // (rows after the last one seen) is read now, one at a time, never held all at once.
        // The observer sees what it finds, so it saw every probe.
        let (verifier, events) = self.read_tail(observer)?;
        let units = self.unit_outcomes();
        let setup = self.setup_outcome(self.ctx.options.grace);
        let mut verified_units = units.clone();
        if let Some(setup) = setup.as_ref().filter(|s| s.status == UnitStatus::Failed) {
            verified_units.push(setup.clone());
        }
        let direct_tests = match direct_tests {
            Some(tests) => tests,
            // As the original: a group where nothing ran (every unit passive or disabled, no
            // direct test) is a failed scenario, not a vacuous pass.
            None if self.sched.units.is_empty() && !self.interrupted && !locked => {
                vec![DirectTest::failed(
                    "scenario",
                    0.0,
                    "no entrypoints or test functions found: no unit was started and no direct \
                 test ran",
                )]
            }
            None => Vec::new(),
        };
        let mut direct_tests = direct_tests;
        if locked {
            direct_tests.push(DirectTest::failed(
                "run database",
                0.0,
                format!(
                    "the run database stayed locked after teardown: {} lifecycle state \
                     writes could not be recorded",
                    self.pending_states.borrow().len()
                ),
            ));
        }
        let mut verdict = verifier.finish(
            &verified_units,
            &direct_tests,
            GroupTiming::wall(self.started_unix_s, ended_unix_s)
                .with_mono_ns(self.started_mono_ns, ended_mono_ns),
            end == EndReason::GroupTimeout,
        );
        if let Some(message) = self.fork_warning.take() {
            verdict.warnings.push(testrium_verify::Warning::new(
                WarningKind::UnitNotice,
                message,
            ));
        }
        verdict.warnings.extend(otlp_warnings);
        let lost = super::otlp::context_lost_warnings(&verdict, &root_entries);
        verdict.warnings.extend(lost);
        let faults = self.fault_outcomes();
        if !self.interrupted {
            for fault in faults.iter().filter(|f| !f.fired && !f.optional) {
                verdict.add_failure(Failure::new(
                    FailureKind::FaultNotTriggered,
                    format!(
                        "fault `{}` of `{}` after `{}` #{} never triggered: its probe was not \
                         recorded that often (`optional = true` allows that)",
                        fault.action, fault.unit, fault.after, fault.occurrence
                    ),
                ));
            }
        }
        let outcome = AttemptOutcome {
            group: self.group().name.clone(),
            attempt: self.ctx.attempt,
            run_id: self.dir.id.clone(),
            run_dir: self.dir.path.clone(),
            db_path: self.dir.db.clone(),
            units,
            setup,
            direct_tests,
            events,
            timings: AttemptTimings {
                started_unix_s: self.started_unix_s,
                started_mono_ns: self.started_mono_ns,
                all_ready: self.sched.all_ready_at,
                units_phase,
                teardown,
                direct_tests: direct_time,
                total: self.since(),
            },
            end,
            ignored_sigterm: self
                .sched
                .units
                .iter()
                .filter(|s| s.killed_after_grace)
                .map(|s| s.unit.name.clone())
                .collect(),
            swept_processes: swept,
            verdict,
            interrupted: self.interrupted,
            faults,
            retry: self.ctx.retry,
            transitions: self.transitions.take(),
        };
        // Streamed into the database: the verdict of a flood holds every pair, and its text
        // (plus the copies SQLite would make of it) would be the runner's largest allocation.
        let stored = StoredOutcome::of(&outcome);
        for written in [
            self.db.write_meta_json(OUTCOME_META_KEY, &stored),
            self.db.write_meta_json(VERDICT_META_KEY, &outcome.verdict),
        ] {
            match written {
                // Still locked: the outcome is returned, only `testrium report` will miss it.
                Err(e) if e.is_busy() => {}
                result => result.map_err(|e| self.store(e))?,
            }
        }
        observer(&RunEvent::AttemptFinished {
            attempt: self.ctx.attempt,
            passed: outcome.passed(),
            interrupted: outcome.interrupted,
            duration: outcome.timings.total,
        });
        Ok(outcome)
    }

    /// Reads the rows after the last one seen into the intake and gives its verifier and
    /// sample of events. When the table is no longer what was read (a unit deleted rows, or
    /// dropped and recreated the table, or the OTLP receiver linked rows already read), every
    /// row is read again from the start.
    fn read_tail(
        &mut self,
        observer: &mut dyn FnMut(&RunEvent),
    ) -> Result<(Verifier<'a>, EventSample), RunError> {
        let at = self.since();
        let mut announced = self.intake.last_id();
        for pass in 0..2 {
            if self.intake.needs_schema() {
                let cookie = self.db.schema_cookie().map_err(|e| self.store(e))?;
                let relinks = self.db.relinks().map_err(|e| self.store(e))?;
                self.intake.note_schema(cookie, relinks);
            }
            let Supervisor { db, intake, .. } = &mut *self;
            let read = db.for_each_event_after(intake.last_id(), |row| {
                if let Some(event) = intake.take(row)
                    && event.id > announced
                {
                    observer(&RunEvent::ProbeRecorded { event, at });
                }
            });
            read.map_err(|e| self.store(e))?;
            announced = announced.max(self.intake.last_id());
            let (rows, max_id) = self.db.event_count().map_err(|e| self.store(e))?;
            let schema = self.db.schema_cookie().map_err(|e| self.store(e))?;
            let relinks = self.db.relinks().map_err(|e| self.store(e))?;
            if pass == 1 || self.intake.is_whole(rows, max_id, schema, relinks) {
                break;
            }
            self.intake.restart();
        }
        Ok(self.intake.finish())
    }

    fn unit_outcomes(&self) -> Vec<UnitOutcome> {
        self.group()
            .units
            .values()
            .map(|unit| {
                let Some(index) = self
                    .sched
                    .units
                    .iter()
                    .position(|s| s.unit.name == unit.name)
                else {
                    return UnitOutcome::new(unit.name.clone(), UnitStatus::NotStarted);
                };
                let slot = &self.sched.units[index];
                let status = self.sched.status(index);
                let ports: Vec<(String, u16)> = unit
                    .ports
                    .iter()
                    .filter_map(|name| Some((name.clone(), self.ports.get(&unit.name, name)?)))
                    .collect();
                let mut outcome = UnitOutcome::new(unit.name.clone(), status)
                    .with_restarts(slot.restarts)
                    .with_ports(ports);
                if let Some(failure) = slot.failure.clone() {
                    outcome = outcome.with_failure(failure);
                } else if slot.killed_after_grace {
                    outcome = outcome.with_failure(UnitFailure::KilledAfterGrace {
                        grace: self.ctx.options.grace,
                    });
                }
                match slot.exit {
                    Some(Exit::Code(code)) => outcome = outcome.with_exit_code(code),
                    Some(Exit::Signal(signal)) => outcome = outcome.with_signal(signal),
                    Some(Exit::Lost) | None => {}
                }
                if let (Some(start), Some(end)) = (slot.first_started, slot.ended) {
                    outcome =
                        outcome.with_duration_s(end.saturating_duration_since(start).as_secs_f64());
                }
                if status == UnitStatus::Failed || slot.killed_after_grace {
                    outcome =
                        outcome.with_log_tail(read_tail(&self.procs[index].log, LOG_TAIL_LINES));
                } else if status != UnitStatus::NotStarted {
                    // A unit that did not fail but logged a Python traceback (a server whose
                    // request handler raised): often the cause of another unit's failure.
                    let tail = read_tail(&self.procs[index].log, LOG_TAIL_LINES);
                    if has_traceback(&tail) {
                        outcome = outcome.with_log_tail(tail);
                    }
                }
                outcome
            })
            .collect()
    }

    /// The group's faults and what became of each.
    fn fault_outcomes(&self) -> Vec<FaultOutcome> {
        self.sched
            .faults()
            .iter()
            .zip(&self.faults_fired)
            .map(|(slot, fired_mono)| {
                let fault = &slot.fault;
                let mut outcome = FaultOutcome::new(
                    format!("{}:{}", fault.after_unit, fault.after_probe),
                    fault.occurrence,
                    fault.unit.clone(),
                    fault.action.as_str(),
                    fault.optional,
                );
                if let Some((at, _)) = slot.fired {
                    outcome.fired = true;
                    outcome.at = Some(at.saturating_duration_since(self.t0));
                    outcome.latency =
                        fired_mono.and_then(|mono| Scheduler::fault_latency(slot, mono));
                }
                outcome
            })
            .collect()
    }
}
